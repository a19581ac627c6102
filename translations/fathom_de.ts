<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="de">
<context>
    <name>BackendFactory</name>
    <message>
        <source>The CUDA backend cannot be used: %1</source>
        <translation>Das CUDA-Backend kann nicht verwendet werden: %1</translation>
    </message>
    <message>
        <source>The CPU engine is not part of this build of Fathom.</source>
        <translation>Die CPU-Engine ist in diesem Build von Fathom nicht enthalten.</translation>
    </message>
    <message>
        <source>This build of Fathom has no CUDA support (built without the CUDA toolkit).</source>
        <translation>Dieser Build von Fathom unterstützt kein CUDA (ohne CUDA-Toolkit gebaut).</translation>
    </message>
    <message>
        <source>This build of Fathom has no remote-server support (built without libcurl).</source>
        <translation>Dieser Build von Fathom unterstützt keine entfernten Server (ohne libcurl gebaut).</translation>
    </message>
    <message>
        <source>Unknown backend kind.</source>
        <translation>Unbekannte Backend-Art.</translation>
    </message>
    <message>
        <source>OpenAI-compatible server (vLLM, SGLang, DeepSeek API)</source>
        <translation>OpenAI-kompatibler Server (vLLM, SGLang, DeepSeek-API)</translation>
    </message>
    <message>
        <source>This build of Fathom has no remote-server support.</source>
        <translation>Dieser Build von Fathom unterstützt keine entfernten Server.</translation>
    </message>
</context>
<context>
    <name>ChatView</name>
    <message>
        <source>New conversation</source>
        <translation>Neue Unterhaltung</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>Kein Modell geladen</translation>
    </message>
    <message>
        <source>System prompt</source>
        <translation>Systemprompt</translation>
    </message>
    <message>
        <source>System prompt of this conversation</source>
        <translation>Systemprompt dieser Unterhaltung</translation>
    </message>
    <message>
        <source>Documents (%1)</source>
        <translation>Dokumente (%1)</translation>
    </message>
    <message>
        <source>Show or hide the documents panel</source>
        <translation>Dokumentbereich ein- oder ausblenden</translation>
    </message>
    <message>
        <source>Documents panel (Ctrl+D)</source>
        <translation>Dokumentbereich (Strg+D)</translation>
    </message>
    <message>
        <source>You are using the demo model: a tiny model with random weights. Its answers are noise. Load a real model in Models.</source>
        <translation>Sie verwenden das Demo-Modell: ein winziges Modell mit zufälligen Gewichten. Seine Antworten sind Rauschen. Laden Sie unter „Modelle“ ein echtes Modell.</translation>
    </message>
    <message>
        <source>System prompt for this conversation</source>
        <translation>Systemprompt für diese Unterhaltung</translation>
    </message>
    <message>
        <source>e.g. You are a careful analyst. Answer in English and cite pages.</source>
        <translation>z. B. Du bist ein sorgfältiger Analyst. Antworte auf Deutsch und nenne die Seiten.</translation>
    </message>
    <message>
        <source>Messages</source>
        <translation>Nachrichten</translation>
    </message>
    <message>
        <source>Ask a question, or drop documents here to analyse them.</source>
        <translation>Stellen Sie eine Frage oder ziehen Sie Dokumente hierher, um sie zu analysieren.</translation>
    </message>
    <message>
        <source>Enter sends, Shift+Enter starts a new line. Press F1 for all keyboard shortcuts.</source>
        <translation>Eingabe sendet, Umschalt+Eingabe beginnt eine neue Zeile. F1 zeigt alle Tastenkürzel.</translation>
    </message>
    <message>
        <source>Open Models</source>
        <translation>Modelle öffnen</translation>
    </message>
</context>
<context>
    <name>Composer</name>
    <message>
        <source>Attach documents</source>
        <translation>Dokumente anhängen</translation>
    </message>
    <message>
        <source>Documents (*.pdf *.docx *.txt *.md *.html *.htm *.csv *.json *.py *.cpp *.h *.js *.ts *.java *.go *.rs)</source>
        <translation>Dokumente (*.pdf *.docx *.txt *.md *.html *.htm *.csv *.json *.py *.cpp *.h *.js *.ts *.java *.go *.rs)</translation>
    </message>
    <message>
        <source>All files (*)</source>
        <translation>Alle Dateien (*)</translation>
    </message>
    <message>
        <source>Message Fathom… (Enter sends, Shift+Enter for a new line)</source>
        <translation>Nachricht an Fathom … (Eingabe sendet, Umschalt+Eingabe für neue Zeile)</translation>
    </message>
    <message>
        <source>Type a message; load a model in Models to send it</source>
        <translation>Nachricht eingeben; zum Senden unter „Modelle“ ein Modell laden</translation>
    </message>
    <message>
        <source>Message</source>
        <translation>Nachricht</translation>
    </message>
    <message>
        <source>Enter sends, Shift+Enter starts a new line</source>
        <translation>Eingabe sendet, Umschalt+Eingabe beginnt eine neue Zeile</translation>
    </message>
    <message>
        <source>Attach</source>
        <translation>Anhängen</translation>
    </message>
    <message>
        <source>Attach documents (Ctrl+O), or drop files on the window</source>
        <translation>Dokumente anhängen (Strg+O) oder Dateien auf das Fenster ziehen</translation>
    </message>
    <message>
        <source>Reasoning:</source>
        <translation>Denken:</translation>
    </message>
    <message>
        <source>Reasoning mode</source>
        <translation>Denkmodus</translation>
    </message>
    <message>
        <source>Off</source>
        <translation>Aus</translation>
    </message>
    <message>
        <source>High</source>
        <translation>Hoch</translation>
    </message>
    <message>
        <source>Max</source>
        <translation>Maximal</translation>
    </message>
    <message>
        <source>Send</source>
        <translation>Senden</translation>
    </message>
    <message>
        <source>Send message</source>
        <translation>Nachricht senden</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>Stopp</translation>
    </message>
    <message>
        <source>Stop generating</source>
        <translation>Generierung stoppen</translation>
    </message>
    <message>
        <source>Stop (Esc)</source>
        <translation>Stopp (Esc)</translation>
    </message>
</context>
<context>
    <name>ContextMeter</name>
    <message>
        <source>Context used: %1 of %2 tokens</source>
        <translation>Genutzter Kontext: %1 von %2 Token</translation>
    </message>
    <message>
        <source>Context ≈%1 / %2 tokens</source>
        <translation>Kontext ≈%1 / %2 Token</translation>
    </message>
    <message>
        <source>System prompt: %1 tokens
Documents: %2 tokens
Conversation: %3 tokens
Limit: %4 tokens</source>
        <translation>Systemprompt: %1 Token
Dokumente: %2 Token
Unterhaltung: %3 Token
Grenze: %4 Token</translation>
    </message>
</context>
<context>
    <name>ConversationDelegate</name>
    <message>
        <source>Pinned conversation</source>
        <translation>Angeheftete Unterhaltung</translation>
    </message>
    <message>
        <source>Conversation</source>
        <translation>Unterhaltung</translation>
    </message>
    <message>
        <source>Conversation title</source>
        <translation>Titel der Unterhaltung</translation>
    </message>
    <message>
        <source>Conversation actions</source>
        <translation>Aktionen für die Unterhaltung</translation>
    </message>
    <message>
        <source>Rename</source>
        <translation>Umbenennen</translation>
    </message>
    <message>
        <source>Unpin</source>
        <translation>Lösen</translation>
    </message>
    <message>
        <source>Pin</source>
        <translation>Anheften</translation>
    </message>
    <message>
        <source>Unarchive</source>
        <translation>Aus dem Archiv holen</translation>
    </message>
    <message>
        <source>Archive</source>
        <translation>Archivieren</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>Löschen</translation>
    </message>
</context>
<context>
    <name>DemoModel</name>
    <message>
        <source>Cannot create the demo model folder %1.</source>
        <translation>Der Ordner %1 für das Demo-Modell kann nicht angelegt werden.</translation>
    </message>
    <message>
        <source>Cannot write %1: %2</source>
        <translation>%1 kann nicht geschrieben werden: %2</translation>
    </message>
    <message>
        <source>Cannot write the demo model in %1: %2</source>
        <translation>Das Demo-Modell kann nicht in %1 geschrieben werden: %2</translation>
    </message>
</context>
<context>
    <name>DocumentViewer</name>
    <message>
        <source>Back to the document list</source>
        <translation>Zurück zur Dokumentliste</translation>
    </message>
    <message>
        <source>Previous page</source>
        <translation>Vorherige Seite</translation>
    </message>
    <message>
        <source>Page %1 of %2</source>
        <translation>Seite %1 von %2</translation>
    </message>
    <message>
        <source>Next page</source>
        <translation>Nächste Seite</translation>
    </message>
    <message>
        <source>Text of page %1</source>
        <translation>Text von Seite %1</translation>
    </message>
</context>
<context>
    <name>DocumentsPanel</name>
    <message>
        <source>Documents</source>
        <translation>Dokumente</translation>
    </message>
    <message>
        <source>Documents of this conversation</source>
        <translation>Dokumente dieser Unterhaltung</translation>
    </message>
    <message>
        <source>Remove %1 from this conversation</source>
        <translation>%1 aus dieser Unterhaltung entfernen</translation>
    </message>
    <message>
        <source>Reading %1</source>
        <translation>%1 wird gelesen</translation>
    </message>
    <message>
        <source>Could not be read: %1</source>
        <translation>Konnte nicht gelesen werden: %1</translation>
    </message>
    <message>
        <source>Reading…</source>
        <translation>Wird gelesen …</translation>
    </message>
    <message numerus="yes">
        <source>%n page(s)</source>
        <translation>
            <numerusform>%n Seite</numerusform><numerusform>%n Seiten</numerusform></translation>
    </message>
    <message>
        <source>≈%1 tokens</source>
        <translation>≈%1 Token</translation>
    </message>
    <message>
        <source>%1 tokens</source>
        <translation>%1 Token</translation>
    </message>
    <message>
        <source>some pages have no text (scanned, no OCR)</source>
        <translation>einige Seiten ohne Text (gescannt, keine Texterkennung)</translation>
    </message>
    <message>
        <source>No documents. Attach files or drop them on the window: PDF, DOCX, text, Markdown, HTML and source code.</source>
        <translation>Keine Dokumente. Hängen Sie Dateien an oder ziehen Sie sie auf das Fenster: PDF, DOCX, Text, Markdown, HTML und Quellcode.</translation>
    </message>
</context>
<context>
    <name>HelpSheet</name>
    <message>
        <source>Keyboard shortcuts</source>
        <translation>Tastenkürzel</translation>
    </message>
    <message>
        <source>New chat</source>
        <translation>Neuer Chat</translation>
    </message>
    <message>
        <source>Search conversations</source>
        <translation>Unterhaltungen durchsuchen</translation>
    </message>
    <message>
        <source>Send message</source>
        <translation>Nachricht senden</translation>
    </message>
    <message>
        <source>Enter</source>
        <translation>Eingabe</translation>
    </message>
    <message>
        <source>New line in the message</source>
        <translation>Neue Zeile in der Nachricht</translation>
    </message>
    <message>
        <source>Shift+Enter</source>
        <translation>Umschalt+Eingabe</translation>
    </message>
    <message>
        <source>Stop generating</source>
        <translation>Generierung stoppen</translation>
    </message>
    <message>
        <source>Esc</source>
        <translation>Esc</translation>
    </message>
    <message>
        <source>Regenerate the last answer</source>
        <translation>Letzte Antwort neu erzeugen</translation>
    </message>
    <message>
        <source>Focus the message box</source>
        <translation>Eingabefeld fokussieren</translation>
    </message>
    <message>
        <source>Attach documents</source>
        <translation>Dokumente anhängen</translation>
    </message>
    <message>
        <source>Show or hide documents</source>
        <translation>Dokumente ein- oder ausblenden</translation>
    </message>
    <message>
        <source>Models and backends</source>
        <translation>Modelle und Backends</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>Einstellungen</translation>
    </message>
    <message>
        <source>Rename the selected conversation</source>
        <translation>Ausgewählte Unterhaltung umbenennen</translation>
    </message>
    <message>
        <source>Delete the selected conversation</source>
        <translation>Ausgewählte Unterhaltung löschen</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>Löschen</translation>
    </message>
    <message>
        <source>This help</source>
        <translation>Diese Hilfe</translation>
    </message>
</context>
<context>
    <name>Main</name>
    <message>
        <source>Fathom — demo model (random weights)</source>
        <translation>Fathom — Demo-Modell (zufällige Gewichte)</translation>
    </message>
    <message>
        <source>Fathom</source>
        <translation>Fathom</translation>
    </message>
    <message>
        <source>Drop files to attach them to this conversation</source>
        <translation>Dateien hier ablegen, um sie an diese Unterhaltung anzuhängen</translation>
    </message>
</context>
<context>
    <name>MarkdownView</name>
    <message>
        <source>code</source>
        <translation>Code</translation>
    </message>
    <message>
        <source>Copied</source>
        <translation>Kopiert</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>Kopieren</translation>
    </message>
    <message>
        <source>Copy code</source>
        <translation>Code kopieren</translation>
    </message>
    <message>
        <source>Code block</source>
        <translation>Codeblock</translation>
    </message>
</context>
<context>
    <name>MessageDelegate</name>
    <message>
        <source>Your message</source>
        <translation>Ihre Nachricht</translation>
    </message>
    <message>
        <source>Answer</source>
        <translation>Antwort</translation>
    </message>
    <message>
        <source>Thinking…</source>
        <translation>Denkt nach …</translation>
    </message>
    <message>
        <source>Thought for %1 s</source>
        <translation>%1 s nachgedacht</translation>
    </message>
    <message>
        <source>Reasoning</source>
        <translation>Denkprozess</translation>
    </message>
    <message>
        <source>Hide reasoning</source>
        <translation>Denkprozess ausblenden</translation>
    </message>
    <message>
        <source>Show reasoning</source>
        <translation>Denkprozess anzeigen</translation>
    </message>
    <message>
        <source>Edit message</source>
        <translation>Nachricht bearbeiten</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Abbrechen</translation>
    </message>
    <message>
        <source>Cancel editing</source>
        <translation>Bearbeitung abbrechen</translation>
    </message>
    <message>
        <source>Save and send</source>
        <translation>Speichern und senden</translation>
    </message>
    <message>
        <source>Save the edit and send it as a new branch</source>
        <translation>Änderung speichern und als neuen Zweig senden</translation>
    </message>
    <message>
        <source>This answer was cut off when Fathom stopped. The text above is what was saved; regenerate to get a complete answer.</source>
        <translation>Diese Antwort wurde abgeschnitten, als Fathom beendet wurde. Oben steht, was gespeichert wurde; erzeugen Sie sie neu, um eine vollständige Antwort zu erhalten.</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>Kopieren</translation>
    </message>
    <message>
        <source>Copy message</source>
        <translation>Nachricht kopieren</translation>
    </message>
    <message>
        <source>Edit</source>
        <translation>Bearbeiten</translation>
    </message>
    <message>
        <source>Regenerate</source>
        <translation>Neu erzeugen</translation>
    </message>
    <message>
        <source>Regenerate answer</source>
        <translation>Antwort neu erzeugen</translation>
    </message>
    <message>
        <source>Previous branch</source>
        <translation>Vorheriger Zweig</translation>
    </message>
    <message>
        <source>%1 / %2</source>
        <translation>%1 / %2</translation>
    </message>
    <message>
        <source>Branch %1 of %2</source>
        <translation>Zweig %1 von %2</translation>
    </message>
    <message>
        <source>Next branch</source>
        <translation>Nächster Zweig</translation>
    </message>
    <message>
        <source>%1 tokens</source>
        <translation>%1 Token</translation>
    </message>
    <message>
        <source>first token %1 s</source>
        <translation>erstes Token nach %1 s</translation>
    </message>
    <message>
        <source>%1 tokens/s</source>
        <translation>%1 Token/s</translation>
    </message>
    <message>
        <source>stopped at the token limit</source>
        <translation>an der Token-Grenze angehalten</translation>
    </message>
    <message>
        <source>stopped</source>
        <translation>angehalten</translation>
    </message>
</context>
<context>
    <name>ModelsDialog</name>
    <message>
        <source>Models and backends</source>
        <translation>Modelle und Backends</translation>
    </message>
    <message>
        <source>Choose a model folder (config.json, tokenizer.json, *.safetensors)</source>
        <translation>Modellordner wählen (config.json, tokenizer.json, *.safetensors)</translation>
    </message>
    <message>
        <source>Loaded: %1 on %2</source>
        <translation>Geladen: %1 auf %2</translation>
    </message>
    <message>
        <source>Loading %1…</source>
        <translation>%1 wird geladen …</translation>
    </message>
    <message>
        <source>Creating the demo model…</source>
        <translation>Demo-Modell wird erstellt …</translation>
    </message>
    <message>
        <source>Loading failed</source>
        <translation>Laden fehlgeschlagen</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>Kein Modell geladen</translation>
    </message>
    <message>
        <source>Loading progress</source>
        <translation>Ladefortschritt</translation>
    </message>
    <message>
        <source>Cancel loading</source>
        <translation>Laden abbrechen</translation>
    </message>
    <message>
        <source>Unload</source>
        <translation>Entladen</translation>
    </message>
    <message>
        <source>Unload the model</source>
        <translation>Modell entladen</translation>
    </message>
    <message>
        <source>Models</source>
        <translation>Modelle</translation>
    </message>
    <message>
        <source>A tiny model with the DeepSeek V4 architecture and RANDOM weights, created on this computer. Its answers are noise; it lets you try every screen without the real weights.</source>
        <translation>Ein winziges Modell mit der DeepSeek-V4-Architektur und ZUFÄLLIGEN Gewichten, auf diesem Rechner erzeugt. Seine Antworten sind Rauschen; damit können Sie jede Ansicht ohne die echten Gewichte ausprobieren.</translation>
    </message>
    <message>
        <source>Create and load</source>
        <translation>Erstellen und laden</translation>
    </message>
    <message>
        <source>Load</source>
        <translation>Laden</translation>
    </message>
    <message>
        <source>Load %1</source>
        <translation>%1 laden</translation>
    </message>
    <message>
        <source>Remove %1 from the list</source>
        <translation>%1 aus der Liste entfernen</translation>
    </message>
    <message>
        <source>Add model folder…</source>
        <translation>Modellordner hinzufügen …</translation>
    </message>
    <message>
        <source>Add a model folder</source>
        <translation>Einen Modellordner hinzufügen</translation>
    </message>
    <message>
        <source>or type a folder path</source>
        <translation>oder einen Ordnerpfad eingeben</translation>
    </message>
    <message>
        <source>Model folder path</source>
        <translation>Pfad des Modellordners</translation>
    </message>
    <message>
        <source>Remote server (vLLM, SGLang, DeepSeek API)</source>
        <translation>Entfernter Server (vLLM, SGLang, DeepSeek-API)</translation>
    </message>
    <message>
        <source>Address</source>
        <translation>Adresse</translation>
    </message>
    <message>
        <source>Server address</source>
        <translation>Serveradresse</translation>
    </message>
    <message>
        <source>Model id</source>
        <translation>Modell-ID</translation>
    </message>
    <message>
        <source>empty: the server's first model</source>
        <translation>leer: das erste Modell des Servers</translation>
    </message>
    <message>
        <source>API key</source>
        <translation>API-Schlüssel</translation>
    </message>
    <message>
        <source>optional</source>
        <translation>optional</translation>
    </message>
    <message>
        <source>Connect</source>
        <translation>Verbinden</translation>
    </message>
    <message>
        <source>Connect to the server</source>
        <translation>Mit dem Server verbinden</translation>
    </message>
    <message>
        <source>Backends</source>
        <translation>Backends</translation>
    </message>
    <message>
        <source>Unavailable: %1</source>
        <translation>Nicht verfügbar: %1</translation>
    </message>
</context>
<context>
    <name>Notifications</name>
    <message>
        <source>Dismiss</source>
        <translation>Schließen</translation>
    </message>
    <message>
        <source>Dismiss message</source>
        <translation>Meldung schließen</translation>
    </message>
</context>
<context>
    <name>PdfPageProvider</name>
    <message>
        <source>Cannot open the PDF file %1.</source>
        <translation>Die PDF-Datei %1 kann nicht geöffnet werden.</translation>
    </message>
    <message>
        <source>%1 has no page %2.</source>
        <translation>%1 hat keine Seite %2.</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Remote servers</source>
        <translation>Remote-Server</translation>
    </message>
    <message>
        <source>key stored</source>
        <translation>Schlüssel gespeichert</translation>
    </message>
    <message>
        <source>Connect</source>
        <translation>Verbinden</translation>
    </message>
    <message>
        <source>Use remote server %1</source>
        <translation>Remote-Server %1 verwenden</translation>
    </message>
    <message>
        <source>Remove remote server %1</source>
        <translation>Remote-Server %1 entfernen</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Name</translation>
    </message>
    <message>
        <source>Office vLLM</source>
        <translation>vLLM im Büro</translation>
    </message>
    <message>
        <source>Remote server name</source>
        <translation>Name des Remote-Servers</translation>
    </message>
    <message>
        <source>Address</source>
        <translation>Adresse</translation>
    </message>
    <message>
        <source>Remote server address</source>
        <translation>Adresse des Remote-Servers</translation>
    </message>
    <message>
        <source>Model id</source>
        <translation>Modell-ID</translation>
    </message>
    <message>
        <source>empty: the server&apos;s first model</source>
        <translation>leer: das erste Modell des Servers</translation>
    </message>
    <message>
        <source>Remote model id</source>
        <translation>Modell-ID auf dem Server</translation>
    </message>
    <message>
        <source>CA bundle</source>
        <translation>CA-Zertifikate</translation>
    </message>
    <message>
        <source>optional PEM file for on-premises certificates</source>
        <translation>optionale PEM-Datei für firmeneigene Zertifikate</translation>
    </message>
    <message>
        <source>CA bundle file</source>
        <translation>Datei mit CA-Zertifikaten</translation>
    </message>
    <message>
        <source>Proxy</source>
        <translation>Proxy</translation>
    </message>
    <message>
        <source>empty: the system&apos;s proxy settings</source>
        <translation>leer: die Proxy-Einstellungen des Systems</translation>
    </message>
    <message>
        <source>API key</source>
        <translation>API-Schlüssel</translation>
    </message>
    <message>
        <source>optional</source>
        <translation>optional</translation>
    </message>
    <message>
        <source>Remote server API key</source>
        <translation>API-Schlüssel des Remote-Servers</translation>
    </message>
    <message>
        <source>Add remote server</source>
        <translation>Remote-Server hinzufügen</translation>
    </message>
    <message>
        <source>API server</source>
        <translation>API-Server</translation>
    </message>
    <message>
        <source>Serve the loaded model</source>
        <translation>Geladenes Modell bereitstellen</translation>
    </message>
    <message>
        <source>Serve the loaded model over the OpenAI-compatible API</source>
        <translation>Das geladene Modell über die OpenAI-kompatible API bereitstellen</translation>
    </message>
    <message>
        <source>API server address</source>
        <translation>Adresse des API-Servers</translation>
    </message>
    <message>
        <source>Port</source>
        <translation>Port</translation>
    </message>
    <message>
        <source>API server port</source>
        <translation>Port des API-Servers</translation>
    </message>
    <message>
        <source>Concurrent requests</source>
        <translation>Gleichzeitige Anfragen</translation>
    </message>
    <message>
        <source>API server concurrent requests</source>
        <translation>Gleichzeitige Anfragen an den API-Server</translation>
    </message>
    <message>
        <source>a key is stored</source>
        <translation>ein Schlüssel ist gespeichert</translation>
    </message>
    <message>
        <source>required for addresses other than 127.0.0.1</source>
        <translation>erforderlich für andere Adressen als 127.0.0.1</translation>
    </message>
    <message>
        <source>API server key</source>
        <translation>Schlüssel des API-Servers</translation>
    </message>
    <message>
        <source>Set</source>
        <translation>Festlegen</translation>
    </message>
    <message>
        <source>Clear</source>
        <translation>Löschen</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>Einstellungen</translation>
    </message>
    <message>
        <source>Choose the data folder</source>
        <translation>Datenordner wählen</translation>
    </message>
    <message>
        <source>Add a model folder</source>
        <translation>Einen Modellordner hinzufügen</translation>
    </message>
    <message>
        <source>Appearance</source>
        <translation>Darstellung</translation>
    </message>
    <message>
        <source>Theme</source>
        <translation>Farbschema</translation>
    </message>
    <message>
        <source>System</source>
        <translation>System</translation>
    </message>
    <message>
        <source>Light</source>
        <translation>Hell</translation>
    </message>
    <message>
        <source>Dark</source>
        <translation>Dunkel</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>Sprache</translation>
    </message>
    <message>
        <source>Font size</source>
        <translation>Schriftgröße</translation>
    </message>
    <message>
        <source>Generation</source>
        <translation>Generierung</translation>
    </message>
    <message>
        <source>Context length (tokens)</source>
        <translation>Kontextlänge (Token)</translation>
    </message>
    <message>
        <source>Context length</source>
        <translation>Kontextlänge</translation>
    </message>
    <message>
        <source>Temperature</source>
        <translation>Temperatur</translation>
    </message>
    <message>
        <source>Top-p</source>
        <translation>Top-p</translation>
    </message>
    <message>
        <source>Top-k (0 = off)</source>
        <translation>Top-k (0 = aus)</translation>
    </message>
    <message>
        <source>Top-k</source>
        <translation>Top-k</translation>
    </message>
    <message>
        <source>Min-p</source>
        <translation>Min-p</translation>
    </message>
    <message>
        <source>Maximum answer tokens</source>
        <translation>Maximale Token pro Antwort</translation>
    </message>
    <message>
        <source>Hardware</source>
        <translation>Hardware</translation>
    </message>
    <message>
        <source>GPUs to use</source>
        <translation>Zu nutzende GPUs</translation>
    </message>
    <message>
        <source>e.g. 0,1 (empty: the CPU)</source>
        <translation>z. B. 0,1 (leer: die CPU)</translation>
    </message>
    <message>
        <source>Storage</source>
        <translation>Speicher</translation>
    </message>
    <message>
        <source>Data folder</source>
        <translation>Datenordner</translation>
    </message>
    <message>
        <source>Change…</source>
        <translation>Ändern …</translation>
    </message>
    <message>
        <source>Change the data folder</source>
        <translation>Datenordner ändern</translation>
    </message>
    <message>
        <source>The new data folder is used after Fathom restarts.</source>
        <translation>Der neue Datenordner wird nach einem Neustart von Fathom verwendet.</translation>
    </message>
    <message>
        <source>Model folders</source>
        <translation>Modellordner</translation>
    </message>
    <message>
        <source>Remove model folder %1</source>
        <translation>Modellordner %1 entfernen</translation>
    </message>
    <message>
        <source>Add model folder…</source>
        <translation>Modellordner hinzufügen …</translation>
    </message>
</context>
<context>
    <name>Sidebar</name>
    <message>
        <source>Fathom</source>
        <translation>Fathom</translation>
    </message>
    <message>
        <source>New chat</source>
        <translation>Neuer Chat</translation>
    </message>
    <message>
        <source>Starts a new conversation (Ctrl+N)</source>
        <translation>Beginnt eine neue Unterhaltung (Strg+N)</translation>
    </message>
    <message>
        <source>New chat (Ctrl+N)</source>
        <translation>Neuer Chat (Strg+N)</translation>
    </message>
    <message>
        <source>Search conversations and documents</source>
        <translation>Unterhaltungen und Dokumente durchsuchen</translation>
    </message>
    <message>
        <source>Search conversations</source>
        <translation>Unterhaltungen durchsuchen</translation>
    </message>
    <message>
        <source>Conversations</source>
        <translation>Unterhaltungen</translation>
    </message>
    <message>
        <source>No archived conversations.</source>
        <translation>Keine archivierten Unterhaltungen.</translation>
    </message>
    <message>
        <source>No conversations yet. Type a message to start one.</source>
        <translation>Noch keine Unterhaltungen. Schreiben Sie eine Nachricht, um eine zu beginnen.</translation>
    </message>
    <message>
        <source>Search results</source>
        <translation>Suchergebnisse</translation>
    </message>
    <message>
        <source>%1, page %2</source>
        <translation>%1, Seite %2</translation>
    </message>
    <message>
        <source>Nothing found.</source>
        <translation>Nichts gefunden.</translation>
    </message>
    <message>
        <source>Undo</source>
        <translation>Rückgängig</translation>
    </message>
    <message>
        <source>Undo delete</source>
        <translation>Löschen rückgängig machen</translation>
    </message>
    <message>
        <source>Models and backends</source>
        <translation>Modelle und Backends</translation>
    </message>
    <message>
        <source>Loading %1…</source>
        <translation>%1 wird geladen …</translation>
    </message>
    <message>
        <source>Model failed to load</source>
        <translation>Modell konnte nicht geladen werden</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>Kein Modell geladen</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>Einstellungen</translation>
    </message>
    <message>
        <source>Settings (Ctrl+,)</source>
        <translation>Einstellungen (Strg+,)</translation>
    </message>
    <message>
        <source>Active</source>
        <translation>Aktiv</translation>
    </message>
    <message>
        <source>Archived</source>
        <translation>Archiviert</translation>
    </message>
    <message>
        <source>Show archived conversations</source>
        <translation>Archivierte Unterhaltungen anzeigen</translation>
    </message>
    <message>
        <source>Keyboard shortcuts</source>
        <translation>Tastenkürzel</translation>
    </message>
    <message>
        <source>Keyboard shortcuts (F1)</source>
        <translation>Tastenkürzel (F1)</translation>
    </message>
</context>
<context>
    <name>fathom::EngineHost</name>
    <message>
        <source>Loading was cancelled.</source>
        <translation>Das Laden wurde abgebrochen.</translation>
    </message>
    <message>
        <source>No model is loaded. Load one in Models before sending.</source>
        <translation>Kein Modell geladen. Laden Sie vor dem Senden eines unter „Modelle“.</translation>
    </message>
    <message>
        <source>The engine stopped without finishing the answer.</source>
        <translation>Die Engine hat angehalten, ohne die Antwort zu beenden.</translation>
    </message>
</context>
<context>
    <name>fathom::ui::AppController</name>
    <message>
        <source>The disk is full: Fathom cannot save. Free some space; nothing typed or generated has been discarded. (%1)</source>
        <translation>Der Datenträger ist voll: Fathom kann nicht speichern. Geben Sie Speicherplatz frei; nichts Eingegebenes oder Erzeugtes wurde verworfen. (%1)</translation>
    </message>
    <message>
        <source>Saving failed: %1</source>
        <translation>Speichern fehlgeschlagen: %1</translation>
    </message>
    <message>
        <source>The database %1 could not be opened: %2</source>
        <translation>Die Datenbank %1 konnte nicht geöffnet werden: %2</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ChatController</name>
    <message>
        <source>The model ran out of memory while answering. Remove documents from the conversation, lower the context length in Settings, or use more GPUs. (%1)</source>
        <translation>Dem Modell ist beim Antworten der Speicher ausgegangen. Entfernen Sie Dokumente aus der Unterhaltung, verringern Sie die Kontextlänge in den Einstellungen oder nutzen Sie mehr GPUs. (%1)</translation>
    </message>
    <message>
        <source>The disk is full, so the answer could not be saved. Free some space; the text generated so far is kept. (%1)</source>
        <translation>Der Datenträger ist voll, die Antwort konnte nicht gespeichert werden. Geben Sie Speicherplatz frei; der bisher erzeugte Text bleibt erhalten. (%1)</translation>
    </message>
    <message>
        <source>The model server could not be reached: %1. Check the server address in Models and try again.</source>
        <translation>Der Modellserver ist nicht erreichbar: %1. Prüfen Sie die Serveradresse unter „Modelle“ und versuchen Sie es erneut.</translation>
    </message>
    <message>
        <source>The GPU reported an error: %1. Reload the model in Models.</source>
        <translation>Die GPU hat einen Fehler gemeldet: %1. Laden Sie das Modell unter „Modelle“ neu.</translation>
    </message>
    <message>
        <source>The answer failed: %1</source>
        <translation>Die Antwort ist fehlgeschlagen: %1</translation>
    </message>
    <message>
        <source>The system prompt could not be saved: %1</source>
        <translation>Der Systemprompt konnte nicht gespeichert werden: %1</translation>
    </message>
    <message>
        <source>The conversation could not be opened: %1</source>
        <translation>Die Unterhaltung konnte nicht geöffnet werden: %1</translation>
    </message>
    <message>
        <source>The messages could not be loaded: %1</source>
        <translation>Die Nachrichten konnten nicht geladen werden: %1</translation>
    </message>
    <message>
        <source>The conversation could not be created: %1</source>
        <translation>Die Unterhaltung konnte nicht angelegt werden: %1</translation>
    </message>
    <message>
        <source>The model is still loading. Your message is kept; send it when loading has finished.</source>
        <translation>Das Modell wird noch geladen. Ihre Nachricht bleibt erhalten; senden Sie sie, wenn das Laden beendet ist.</translation>
    </message>
    <message>
        <source>No model is loaded. Open Models and load one (or the demo model); your message is kept.</source>
        <translation>Kein Modell geladen. Öffnen Sie „Modelle“ und laden Sie eines (oder das Demo-Modell); Ihre Nachricht bleibt erhalten.</translation>
    </message>
    <message>
        <source>Your message could not be saved: %1</source>
        <translation>Ihre Nachricht konnte nicht gespeichert werden: %1</translation>
    </message>
    <message>
        <source>The answer could not be started: %1</source>
        <translation>Die Antwort konnte nicht begonnen werden: %1</translation>
    </message>
    <message>
        <source>The user attached these documents. Cite pages as [document, page N].</source>
        <translation>Der Benutzer hat diese Dokumente angehängt. Zitiere Seiten als [Dokument, Seite N].</translation>
    </message>
    <message>
        <source>The answer could not be saved: %1</source>
        <translation>Die Antwort konnte nicht gespeichert werden: %1</translation>
    </message>
    <message>
        <source>No model is loaded. Open Models and load one to regenerate.</source>
        <translation>Kein Modell geladen. Öffnen Sie „Modelle“ und laden Sie eines, um neu zu erzeugen.</translation>
    </message>
    <message>
        <source>Could not regenerate: %1</source>
        <translation>Neu erzeugen nicht möglich: %1</translation>
    </message>
    <message>
        <source>No model is loaded. Open Models and load one; your edit is kept.</source>
        <translation>Kein Modell geladen. Öffnen Sie „Modelle“ und laden Sie eines; Ihre Änderung bleibt erhalten.</translation>
    </message>
    <message>
        <source>Your edit could not be saved: %1</source>
        <translation>Ihre Änderung konnte nicht gespeichert werden: %1</translation>
    </message>
    <message>
        <source>Could not switch to that branch: %1</source>
        <translation>Wechsel zu diesem Zweig nicht möglich: %1</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ConversationListModel</name>
    <message>
        <source>New conversation</source>
        <translation>Neue Unterhaltung</translation>
    </message>
    <message>
        <source>Pinned</source>
        <translation>Angeheftet</translation>
    </message>
    <message>
        <source>Today</source>
        <translation>Heute</translation>
    </message>
    <message>
        <source>Yesterday</source>
        <translation>Gestern</translation>
    </message>
    <message>
        <source>Previous 7 days</source>
        <translation>Letzte 7 Tage</translation>
    </message>
    <message>
        <source>Previous 30 days</source>
        <translation>Letzte 30 Tage</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ConversationsController</name>
    <message>
        <source>Deleted “%1”</source>
        <translation>„%1“ gelöscht</translation>
    </message>
    <message>
        <source>New conversation</source>
        <translation>Neue Unterhaltung</translation>
    </message>
    <message>
        <source>The conversations could not be loaded: %1</source>
        <translation>Die Unterhaltungen konnten nicht geladen werden: %1</translation>
    </message>
    <message>
        <source>The conversation could not be renamed: %1</source>
        <translation>Die Unterhaltung konnte nicht umbenannt werden: %1</translation>
    </message>
    <message>
        <source>The conversation could not be deleted: %1</source>
        <translation>Die Unterhaltung konnte nicht gelöscht werden: %1</translation>
    </message>
    <message>
        <source>Could not pin the conversation: %1</source>
        <translation>Die Unterhaltung konnte nicht angeheftet werden: %1</translation>
    </message>
    <message>
        <source>Could not archive the conversation: %1</source>
        <translation>Die Unterhaltung konnte nicht archiviert werden: %1</translation>
    </message>
</context>
<context>
    <name>fathom::ui::DocumentsController</name>
    <message>
        <source>The documents could not be loaded: %1</source>
        <translation>Die Dokumente konnten nicht geladen werden: %1</translation>
    </message>
    <message>
        <source>%1 is not a file that can be attached.</source>
        <translation>%1 ist keine Datei, die angehängt werden kann.</translation>
    </message>
    <message>
        <source>%1 could not be read: %2</source>
        <translation>%1 konnte nicht gelesen werden: %2</translation>
    </message>
    <message>
        <source>The document could not be saved: %1</source>
        <translation>Das Dokument konnte nicht gespeichert werden: %1</translation>
    </message>
    <message>
        <source>The document could not be removed: %1</source>
        <translation>Das Dokument konnte nicht entfernt werden: %1</translation>
    </message>
    <message>
        <source>The document could not be opened: %1</source>
        <translation>Das Dokument konnte nicht geöffnet werden: %1</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ModelsController</name>
    <message>
        <source>Looking for NVIDIA GPUs…</source>
        <translation>Suche nach NVIDIA-GPUs…</translation>
    </message>
    <message>
        <source>GPU %1: %2, %3 GiB, compute capability %4.%5</source>
        <translation>GPU %1: %2, %3 GiB, Compute Capability %4.%5</translation>
    </message>
    <message>
        <source>not usable: %1</source>
        <translation>nicht nutzbar: %1</translation>
    </message>
    <message>
        <source>unsupported compute capability</source>
        <translation>nicht unterstützte Compute Capability</translation>
    </message>
    <message>
        <source>%1 (driver %2, CUDA runtime %3)</source>
        <translation>%1 (Treiber %2, CUDA-Laufzeit %3)</translation>
    </message>
    <message>
        <source>Could not load the model %1: %2</source>
        <translation>Das Modell %1 konnte nicht geladen werden: %2</translation>
    </message>
    <message>
        <source>CPU</source>
        <translation>CPU</translation>
    </message>
    <message>
        <source>NVIDIA GPUs (CUDA)</source>
        <translation>NVIDIA-GPUs (CUDA)</translation>
    </message>
    <message>
        <source>Remote server</source>
        <translation>Entfernter Server</translation>
    </message>
    <message>
        <source>Demo model (random weights)</source>
        <translation>Demo-Modell (zufällige Gewichte)</translation>
    </message>
    <message>
        <source>The folder %1 does not exist.</source>
        <translation>Der Ordner %1 existiert nicht.</translation>
    </message>
    <message>
        <source>%1 has no config.json: this is not a model folder in the Hugging Face layout.</source>
        <translation>%1 enthält keine config.json: Das ist kein Modellordner im Hugging-Face-Format.</translation>
    </message>
    <message>
        <source>The model configuration %1 is not usable: %2</source>
        <translation>Die Modellkonfiguration %1 ist nicht verwendbar: %2</translation>
    </message>
    <message>
        <source>%1 has no tokenizer.json; copy it from the model's download.</source>
        <translation>%1 enthält keine tokenizer.json; kopieren Sie sie aus dem Download des Modells.</translation>
    </message>
    <message>
        <source>%1 has no weights (*.safetensors files).</source>
        <translation>%1 enthält keine Gewichte (*.safetensors-Dateien).</translation>
    </message>
    <message>
        <source>Creating the demo model</source>
        <translation>Demo-Modell wird erstellt</translation>
    </message>
    <message>
        <source>Could not create the demo model: %1</source>
        <translation>Das Demo-Modell konnte nicht erstellt werden: %1</translation>
    </message>
    <message>
        <source>Starting</source>
        <translation>Wird gestartet</translation>
    </message>
</context>
<context>
    <name>fathom::ui::SettingsController</name>
    <message>
        <source>&quot;%1&quot; is not a server address (for example https://api.deepseek.com or http://gpu01:8000/v1).</source>
        <translation>„%1“ ist keine Serveradresse (zum Beispiel https://api.deepseek.com oder http://gpu01:8000/v1).</translation>
    </message>
    <message>
        <source>The API key was not saved: %1</source>
        <translation>Der API-Schlüssel wurde nicht gespeichert: %1</translation>
    </message>
    <message>
        <source>The API key of %1 is missing from the keychain; enter it again in Settings.</source>
        <translation>Der API-Schlüssel von %1 fehlt im Schlüsselbund; geben Sie ihn in den Einstellungen erneut ein.</translation>
    </message>
    <message>
        <source>No remote server with id %1.</source>
        <translation>Kein Remote-Server mit der ID %1.</translation>
    </message>
    <message>
        <source>Serving on %1</source>
        <translation>Bereitgestellt unter %1</translation>
    </message>
    <message>
        <source>The API server did not start: %1</source>
        <translation>Der API-Server ist nicht gestartet: %1</translation>
    </message>
    <message>
        <source>System language</source>
        <translation>Systemsprache</translation>
    </message>
</context>
<context>
    <name>fathom::ui::BackendListModel</name>
    <message>
        <source>%1, model %2</source>
        <translation>%1, Modell %2</translation>
    </message>
</context>
</TS>