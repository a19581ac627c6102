<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="fr">
<context>
    <name>BackendFactory</name>
    <message>
        <source>The CUDA backend cannot be used: %1</source>
        <translation>Le backend CUDA ne peut pas être utilisé : %1</translation>
    </message>
    <message>
        <source>The CPU engine is not part of this build of Fathom.</source>
        <translation>Le moteur CPU ne fait pas partie de cette version de Fathom.</translation>
    </message>
    <message>
        <source>This build of Fathom has no CUDA support (built without the CUDA toolkit).</source>
        <translation>Cette version de Fathom ne prend pas en charge CUDA (compilée sans le toolkit CUDA).</translation>
    </message>
    <message>
        <source>This build of Fathom has no remote-server support (built without libcurl).</source>
        <translation>Cette version de Fathom ne prend pas en charge les serveurs distants (compilée sans libcurl).</translation>
    </message>
    <message>
        <source>Unknown backend kind.</source>
        <translation>Type de moteur inconnu.</translation>
    </message>
    <message>
        <source>OpenAI-compatible server (vLLM, SGLang, DeepSeek API)</source>
        <translation>Serveur compatible OpenAI (vLLM, SGLang, API DeepSeek)</translation>
    </message>
    <message>
        <source>This build of Fathom has no remote-server support.</source>
        <translation>Cette version de Fathom ne prend pas en charge les serveurs distants.</translation>
    </message>
</context>
<context>
    <name>ChatView</name>
    <message>
        <source>New conversation</source>
        <translation>Nouvelle conversation</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>Aucun modèle chargé</translation>
    </message>
    <message>
        <source>System prompt</source>
        <translation>Prompt système</translation>
    </message>
    <message>
        <source>System prompt of this conversation</source>
        <translation>Prompt système de cette conversation</translation>
    </message>
    <message>
        <source>Documents (%1)</source>
        <translation>Documents (%1)</translation>
    </message>
    <message>
        <source>Show or hide the documents panel</source>
        <translation>Afficher ou masquer le panneau des documents</translation>
    </message>
    <message>
        <source>Documents panel (Ctrl+D)</source>
        <translation>Panneau des documents (Ctrl+D)</translation>
    </message>
    <message>
        <source>You are using the demo model: a tiny model with random weights. Its answers are noise. Load a real model in Models.</source>
        <translation>Vous utilisez le modèle de démonstration : un tout petit modèle aux poids aléatoires. Ses réponses n’ont aucun sens. Chargez un vrai modèle dans Modèles.</translation>
    </message>
    <message>
        <source>System prompt for this conversation</source>
        <translation>Prompt système pour cette conversation</translation>
    </message>
    <message>
        <source>e.g. You are a careful analyst. Answer in English and cite pages.</source>
        <translation>p. ex. Tu es un analyste rigoureux. Réponds en français et cite les pages.</translation>
    </message>
    <message>
        <source>Messages</source>
        <translation>Messages</translation>
    </message>
    <message>
        <source>Ask a question, or drop documents here to analyse them.</source>
        <translation>Posez une question ou déposez ici des documents à analyser.</translation>
    </message>
    <message>
        <source>Enter sends, Shift+Enter starts a new line. Press F1 for all keyboard shortcuts.</source>
        <translation>Entrée envoie, Maj+Entrée commence une nouvelle ligne. F1 affiche tous les raccourcis clavier.</translation>
    </message>
    <message>
        <source>Open Models</source>
        <translation>Ouvrir Modèles</translation>
    </message>
</context>
<context>
    <name>Composer</name>
    <message>
        <source>Attach documents</source>
        <translation>Joindre des documents</translation>
    </message>
    <message>
        <source>Documents (*.pdf *.docx *.txt *.md *.html *.htm *.csv *.json *.py *.cpp *.h *.js *.ts *.java *.go *.rs)</source>
        <translation>Documents (*.pdf *.docx *.txt *.md *.html *.htm *.csv *.json *.py *.cpp *.h *.js *.ts *.java *.go *.rs)</translation>
    </message>
    <message>
        <source>All files (*)</source>
        <translation>Tous les fichiers (*)</translation>
    </message>
    <message>
        <source>Message Fathom… (Enter sends, Shift+Enter for a new line)</source>
        <translation>Écrire à Fathom… (Entrée envoie, Maj+Entrée pour une nouvelle ligne)</translation>
    </message>
    <message>
        <source>Type a message; load a model in Models to send it</source>
        <translation>Saisissez un message ; chargez un modèle dans Modèles pour l’envoyer</translation>
    </message>
    <message>
        <source>Message</source>
        <translation>Message</translation>
    </message>
    <message>
        <source>Enter sends, Shift+Enter starts a new line</source>
        <translation>Entrée envoie, Maj+Entrée commence une nouvelle ligne</translation>
    </message>
    <message>
        <source>Attach</source>
        <translation>Joindre</translation>
    </message>
    <message>
        <source>Attach documents (Ctrl+O), or drop files on the window</source>
        <translation>Joindre des documents (Ctrl+O) ou déposer des fichiers sur la fenêtre</translation>
    </message>
    <message>
        <source>Reasoning:</source>
        <translation>Raisonnement :</translation>
    </message>
    <message>
        <source>Reasoning mode</source>
        <translation>Mode de raisonnement</translation>
    </message>
    <message>
        <source>Off</source>
        <translation>Désactivé</translation>
    </message>
    <message>
        <source>High</source>
        <translation>Élevé</translation>
    </message>
    <message>
        <source>Max</source>
        <translation>Maximal</translation>
    </message>
    <message>
        <source>Send</source>
        <translation>Envoyer</translation>
    </message>
    <message>
        <source>Send message</source>
        <translation>Envoyer le message</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>Arrêter</translation>
    </message>
    <message>
        <source>Stop generating</source>
        <translation>Arrêter la génération</translation>
    </message>
    <message>
        <source>Stop (Esc)</source>
        <translation>Arrêter (Échap)</translation>
    </message>
</context>
<context>
    <name>ContextMeter</name>
    <message>
        <source>Context used: %1 of %2 tokens</source>
        <translation>Contexte utilisé : %1 sur %2 jetons</translation>
    </message>
    <message>
        <source>Context ≈%1 / %2 tokens</source>
        <translation>Contexte ≈%1 / %2 jetons</translation>
    </message>
    <message>
        <source>System prompt: %1 tokens
Documents: %2 tokens
Conversation: %3 tokens
Limit: %4 tokens</source>
        <translation>Prompt système : %1 jetons
Documents : %2 jetons
Conversation : %3 jetons
Limite : %4 jetons</translation>
    </message>
</context>
<context>
    <name>ConversationDelegate</name>
    <message>
        <source>Pinned conversation</source>
        <translation>Conversation épinglée</translation>
    </message>
    <message>
        <source>Conversation</source>
        <translation>Conversation</translation>
    </message>
    <message>
        <source>Conversation title</source>
        <translation>Titre de la conversation</translation>
    </message>
    <message>
        <source>Conversation actions</source>
        <translation>Actions sur la conversation</translation>
    </message>
    <message>
        <source>Rename</source>
        <translation>Renommer</translation>
    </message>
    <message>
        <source>Unpin</source>
        <translation>Désépingler</translation>
    </message>
    <message>
        <source>Pin</source>
        <translation>Épingler</translation>
    </message>
    <message>
        <source>Unarchive</source>
        <translation>Désarchiver</translation>
    </message>
    <message>
        <source>Archive</source>
        <translation>Archiver</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>Supprimer</translation>
    </message>
</context>
<context>
    <name>DemoModel</name>
    <message>
        <source>Cannot create the demo model folder %1.</source>
        <translation>Impossible de créer le dossier du modèle de démonstration %1.</translation>
    </message>
    <message>
        <source>Cannot write %1: %2</source>
        <translation>Impossible d’écrire %1 : %2</translation>
    </message>
    <message>
        <source>Cannot write the demo model in %1: %2</source>
        <translation>Impossible d’écrire le modèle de démonstration dans %1 : %2</translation>
    </message>
</context>
<context>
    <name>DocumentViewer</name>
    <message>
        <source>Back to the document list</source>
        <translation>Retour à la liste des documents</translation>
    </message>
    <message>
        <source>Previous page</source>
        <translation>Page précédente</translation>
    </message>
    <message>
        <source>Page %1 of %2</source>
        <translation>Page %1 sur %2</translation>
    </message>
    <message>
        <source>Next page</source>
        <translation>Page suivante</translation>
    </message>
    <message>
        <source>Text of page %1</source>
        <translation>Texte de la page %1</translation>
    </message>
</context>
<context>
    <name>DocumentsPanel</name>
    <message>
        <source>Documents</source>
        <translation>Documents</translation>
    </message>
    <message>
        <source>Documents of this conversation</source>
        <translation>Documents de cette conversation</translation>
    </message>
    <message>
        <source>Remove %1 from this conversation</source>
        <translation>Retirer %1 de cette conversation</translation>
    </message>
    <message>
        <source>Reading %1</source>
        <translation>Lecture de %1</translation>
    </message>
    <message>
        <source>Could not be read: %1</source>
        <translation>Lecture impossible : %1</translation>
    </message>
    <message>
        <source>Reading…</source>
        <translation>Lecture…</translation>
    </message>
    <message numerus="yes">
        <source>%n page(s)</source>
        <translation>
            <numerusform>%n page</numerusform><numerusform>%n pages</numerusform></translation>
    </message>
    <message>
        <source>≈%1 tokens</source>
        <translation>≈%1 jetons</translation>
    </message>
    <message>
        <source>%1 tokens</source>
        <translation>%1 jetons</translation>
    </message>
    <message>
        <source>some pages have no text (scanned, no OCR)</source>
        <translation>certaines pages n’ont pas de texte (numérisées, sans OCR)</translation>
    </message>
    <message>
        <source>No documents. Attach files or drop them on the window: PDF, DOCX, text, Markdown, HTML and source code.</source>
        <translation>Aucun document. Joignez des fichiers ou déposez-les sur la fenêtre : PDF, DOCX, texte, Markdown, HTML et code source.</translation>
    </message>
</context>
<context>
    <name>HelpSheet</name>
    <message>
        <source>Keyboard shortcuts</source>
        <translation>Raccourcis clavier</translation>
    </message>
    <message>
        <source>New chat</source>
        <translation>Nouvelle discussion</translation>
    </message>
    <message>
        <source>Search conversations</source>
        <translation>Rechercher dans les conversations</translation>
    </message>
    <message>
        <source>Send message</source>
        <translation>Envoyer le message</translation>
    </message>
    <message>
        <source>Enter</source>
        <translation>Entrée</translation>
    </message>
    <message>
        <source>New line in the message</source>
        <translation>Nouvelle ligne dans le message</translation>
    </message>
    <message>
        <source>Shift+Enter</source>
        <translation>Maj+Entrée</translation>
    </message>
    <message>
        <source>Stop generating</source>
        <translation>Arrêter la génération</translation>
    </message>
    <message>
        <source>Esc</source>
        <translation>Échap</translation>
    </message>
    <message>
        <source>Regenerate the last answer</source>
        <translation>Régénérer la dernière réponse</translation>
    </message>
    <message>
        <source>Focus the message box</source>
        <translation>Aller au champ de message</translation>
    </message>
    <message>
        <source>Attach documents</source>
        <translation>Joindre des documents</translation>
    </message>
    <message>
        <source>Show or hide documents</source>
        <translation>Afficher ou masquer les documents</translation>
    </message>
    <message>
        <source>Models and backends</source>
        <translation>Modèles et moteurs</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>Paramètres</translation>
    </message>
    <message>
        <source>Rename the selected conversation</source>
        <translation>Renommer la conversation sélectionnée</translation>
    </message>
    <message>
        <source>Delete the selected conversation</source>
        <translation>Supprimer la conversation sélectionnée</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>Supprimer</translation>
    </message>
    <message>
        <source>This help</source>
        <translation>Cette aide</translation>
    </message>
</context>
<context>
    <name>Main</name>
    <message>
        <source>Fathom — demo model (random weights)</source>
        <translation>Fathom — modèle de démonstration (poids aléatoires)</translation>
    </message>
    <message>
        <source>Fathom</source>
        <translation>Fathom</translation>
    </message>
    <message>
        <source>Drop files to attach them to this conversation</source>
        <translation>Déposez des fichiers pour les joindre à cette conversation</translation>
    </message>
</context>
<context>
    <name>MarkdownView</name>
    <message>
        <source>code</source>
        <translation>code</translation>
    </message>
    <message>
        <source>Copied</source>
        <translation>Copié</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>Copier</translation>
    </message>
    <message>
        <source>Copy code</source>
        <translation>Copier le code</translation>
    </message>
    <message>
        <source>Code block</source>
        <translation>Bloc de code</translation>
    </message>
</context>
<context>
    <name>MessageDelegate</name>
    <message>
        <source>Your message</source>
        <translation>Votre message</translation>
    </message>
    <message>
        <source>Answer</source>
        <translation>Réponse</translation>
    </message>
    <message>
        <source>Thinking…</source>
        <translation>Réflexion…</translation>
    </message>
    <message>
        <source>Thought for %1 s</source>
        <translation>Réflexion pendant %1 s</translation>
    </message>
    <message>
        <source>Reasoning</source>
        <translation>Raisonnement</translation>
    </message>
    <message>
        <source>Hide reasoning</source>
        <translation>Masquer le raisonnement</translation>
    </message>
    <message>
        <source>Show reasoning</source>
        <translation>Afficher le raisonnement</translation>
    </message>
    <message>
        <source>Edit message</source>
        <translation>Modifier le message</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Annuler</translation>
    </message>
    <message>
        <source>Cancel editing</source>
        <translation>Annuler la modification</translation>
    </message>
    <message>
        <source>Save and send</source>
        <translation>Enregistrer et envoyer</translation>
    </message>
    <message>
        <source>Save the edit and send it as a new branch</source>
        <translation>Enregistrer la modification et l’envoyer comme nouvelle branche</translation>
    </message>
    <message>
        <source>This answer was cut off when Fathom stopped. The text above is what was saved; regenerate to get a complete answer.</source>
        <translation>Cette réponse a été interrompue à l’arrêt de Fathom. Le texte ci-dessus est ce qui a été enregistré ; régénérez-la pour obtenir une réponse complète.</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>Copier</translation>
    </message>
    <message>
        <source>Copy message</source>
        <translation>Copier le message</translation>
    </message>
    <message>
        <source>Edit</source>
        <translation>Modifier</translation>
    </message>
    <message>
        <source>Regenerate</source>
        <translation>Régénérer</translation>
    </message>
    <message>
        <source>Regenerate answer</source>
        <translation>Régénérer la réponse</translation>
    </message>
    <message>
        <source>Previous branch</source>
        <translation>Branche précédente</translation>
    </message>
    <message>
        <source>%1 / %2</source>
        <translation>%1 / %2</translation>
    </message>
    <message>
        <source>Branch %1 of %2</source>
        <translation>Branche %1 sur %2</translation>
    </message>
    <message>
        <source>Next branch</source>
        <translation>Branche suivante</translation>
    </message>
    <message>
        <source>%1 tokens</source>
        <translation>%1 jetons</translation>
    </message>
    <message>
        <source>first token %1 s</source>
        <translation>premier jeton en %1 s</translation>
    </message>
    <message>
        <source>%1 tokens/s</source>
        <translation>%1 jetons/s</translation>
    </message>
    <message>
        <source>stopped at the token limit</source>
        <translation>arrêtée à la limite de jetons</translation>
    </message>
    <message>
        <source>stopped</source>
        <translation>arrêtée</translation>
    </message>
</context>
<context>
    <name>ModelsDialog</name>
    <message>
        <source>Models and backends</source>
        <translation>Modèles et moteurs</translation>
    </message>
    <message>
        <source>Choose a model folder (config.json, tokenizer.json, *.safetensors)</source>
        <translation>Choisir un dossier de modèle (config.json, tokenizer.json, *.safetensors)</translation>
    </message>
    <message>
        <source>Loaded: %1 on %2</source>
        <translation>Chargé : %1 sur %2</translation>
    </message>
    <message>
        <source>Loading %1…</source>
        <translation>Chargement de %1…</translation>
    </message>
    <message>
        <source>Creating the demo model…</source>
        <translation>Création du modèle de démonstration…</translation>
    </message>
    <message>
        <source>Loading failed</source>
        <translation>Échec du chargement</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>Aucun modèle chargé</translation>
    </message>
    <message>
        <source>Loading progress</source>
        <translation>Progression du chargement</translation>
    </message>
    <message>
        <source>Cancel loading</source>
        <translation>Annuler le chargement</translation>
    </message>
    <message>
        <source>Unload</source>
        <translation>Décharger</translation>
    </message>
    <message>
        <source>Unload the model</source>
        <translation>Décharger le modèle</translation>
    </message>
    <message>
        <source>Models</source>
        <translation>Modèles</translation>
    </message>
    <message>
        <source>A tiny model with the DeepSeek V4 architecture and RANDOM weights, created on this computer. Its answers are noise; it lets you try every screen without the real weights.</source>
        <translation>Un tout petit modèle à l’architecture DeepSeek V4 avec des poids ALÉATOIRES, créé sur cet ordinateur. Ses réponses n’ont aucun sens ; il permet d’essayer chaque écran sans les vrais poids.</translation>
    </message>
    <message>
        <source>Create and load</source>
        <translation>Créer et charger</translation>
    </message>
    <message>
        <source>Load</source>
        <translation>Charger</translation>
    </message>
    <message>
        <source>Load %1</source>
        <translation>Charger %1</translation>
    </message>
    <message>
        <source>Remove %1 from the list</source>
        <translation>Retirer %1 de la liste</translation>
    </message>
    <message>
        <source>Add model folder…</source>
        <translation>Ajouter un dossier de modèle…</translation>
    </message>
    <message>
        <source>Add a model folder</source>
        <translation>Ajouter un dossier de modèle</translation>
    </message>
    <message>
        <source>or type a folder path</source>
        <translation>ou saisissez le chemin d’un dossier</translation>
    </message>
    <message>
        <source>Model folder path</source>
        <translation>Chemin du dossier de modèle</translation>
    </message>
    <message>
        <source>Remote server (vLLM, SGLang, DeepSeek API)</source>
        <translation>Serveur distant (vLLM, SGLang, API DeepSeek)</translation>
    </message>
    <message>
        <source>Address</source>
        <translation>Adresse</translation>
    </message>
    <message>
        <source>Server address</source>
        <translation>Adresse du serveur</translation>
    </message>
    <message>
        <source>Model id</source>
        <translation>Identifiant du modèle</translation>
    </message>
    <message>
        <source>empty: the server's first model</source>
        <translation>vide : le premier modèle du serveur</translation>
    </message>
    <message>
        <source>API key</source>
        <translation>Clé d’API</translation>
    </message>
    <message>
        <source>optional</source>
        <translation>facultatif</translation>
    </message>
    <message>
        <source>Connect</source>
        <translation>Se connecter</translation>
    </message>
    <message>
        <source>Connect to the server</source>
        <translation>Se connecter au serveur</translation>
    </message>
    <message>
        <source>Backends</source>
        <translation>Moteurs</translation>
    </message>
    <message>
        <source>Unavailable: %1</source>
        <translation>Indisponible : %1</translation>
    </message>
</context>
<context>
    <name>Notifications</name>
    <message>
        <source>Dismiss</source>
        <translation>Fermer</translation>
    </message>
    <message>
        <source>Dismiss message</source>
        <translation>Fermer le message</translation>
    </message>
</context>
<context>
    <name>PdfPageProvider</name>
    <message>
        <source>Cannot open the PDF file %1.</source>
        <translation>Impossible d’ouvrir le fichier PDF %1.</translation>
    </message>
    <message>
        <source>%1 has no page %2.</source>
        <translation>%1 n’a pas de page %2.</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Remote servers</source>
        <translation>Serveurs distants</translation>
    </message>
    <message>
        <source>key stored</source>
        <translation>clé enregistrée</translation>
    </message>
    <message>
        <source>Connect</source>
        <translation>Se connecter</translation>
    </message>
    <message>
        <source>Use remote server %1</source>
        <translation>Utiliser le serveur distant %1</translation>
    </message>
    <message>
        <source>Remove remote server %1</source>
        <translation>Supprimer le serveur distant %1</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Nom</translation>
    </message>
    <message>
        <source>Office vLLM</source>
        <translation>vLLM du bureau</translation>
    </message>
    <message>
        <source>Remote server name</source>
        <translation>Nom du serveur distant</translation>
    </message>
    <message>
        <source>Address</source>
        <translation>Adresse</translation>
    </message>
    <message>
        <source>Remote server address</source>
        <translation>Adresse du serveur distant</translation>
    </message>
    <message>
        <source>Model id</source>
        <translation>Identifiant du modèle</translation>
    </message>
    <message>
        <source>empty: the server&apos;s first model</source>
        <translation>vide : le premier modèle du serveur</translation>
    </message>
    <message>
        <source>Remote model id</source>
        <translation>Identifiant du modèle distant</translation>
    </message>
    <message>
        <source>CA bundle</source>
        <translation>Certificats d’autorité (CA)</translation>
    </message>
    <message>
        <source>optional PEM file for on-premises certificates</source>
        <translation>fichier PEM facultatif pour les certificats internes</translation>
    </message>
    <message>
        <source>CA bundle file</source>
        <translation>Fichier des certificats d’autorité</translation>
    </message>
    <message>
        <source>Proxy</source>
        <translation>Proxy</translation>
    </message>
    <message>
        <source>empty: the system&apos;s proxy settings</source>
        <translation>vide : les réglages de proxy du système</translation>
    </message>
    <message>
        <source>API key</source>
        <translation>Clé d’API</translation>
    </message>
    <message>
        <source>optional</source>
        <translation>facultatif</translation>
    </message>
    <message>
        <source>Remote server API key</source>
        <translation>Clé d’API du serveur distant</translation>
    </message>
    <message>
        <source>Add remote server</source>
        <translation>Ajouter un serveur distant</translation>
    </message>
    <message>
        <source>API server</source>
        <translation>Serveur d’API</translation>
    </message>
    <message>
        <source>Serve the loaded model</source>
        <translation>Servir le modèle chargé</translation>
    </message>
    <message>
        <source>Serve the loaded model over the OpenAI-compatible API</source>
        <translation>Servir le modèle chargé par l’API compatible OpenAI</translation>
    </message>
    <message>
        <source>API server address</source>
        <translation>Adresse du serveur d’API</translation>
    </message>
    <message>
        <source>Port</source>
        <translation>Port</translation>
    </message>
    <message>
        <source>API server port</source>
        <translation>Port du serveur d’API</translation>
    </message>
    <message>
        <source>Concurrent requests</source>
        <translation>Requêtes simultanées</translation>
    </message>
    <message>
        <source>API server concurrent requests</source>
        <translation>Requêtes simultanées du serveur d’API</translation>
    </message>
    <message>
        <source>a key is stored</source>
        <translation>une clé est enregistrée</translation>
    </message>
    <message>
        <source>required for addresses other than 127.0.0.1</source>
        <translation>obligatoire pour une adresse autre que 127.0.0.1</translation>
    </message>
    <message>
        <source>API server key</source>
        <translation>Clé du serveur d’API</translation>
    </message>
    <message>
        <source>Set</source>
        <translation>Définir</translation>
    </message>
    <message>
        <source>Clear</source>
        <translation>Effacer</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>Paramètres</translation>
    </message>
    <message>
        <source>Choose the data folder</source>
        <translation>Choisir le dossier de données</translation>
    </message>
    <message>
        <source>Add a model folder</source>
        <translation>Ajouter un dossier de modèle</translation>
    </message>
    <message>
        <source>Appearance</source>
        <translation>Apparence</translation>
    </message>
    <message>
        <source>Theme</source>
        <translation>Thème</translation>
    </message>
    <message>
        <source>System</source>
        <translation>Système</translation>
    </message>
    <message>
        <source>Light</source>
        <translation>Clair</translation>
    </message>
    <message>
        <source>Dark</source>
        <translation>Sombre</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>Langue</translation>
    </message>
    <message>
        <source>Font size</source>
        <translation>Taille de police</translation>
    </message>
    <message>
        <source>Generation</source>
        <translation>Génération</translation>
    </message>
    <message>
        <source>Context length (tokens)</source>
        <translation>Longueur du contexte (jetons)</translation>
    </message>
    <message>
        <source>Context length</source>
        <translation>Longueur du contexte</translation>
    </message>
    <message>
        <source>Temperature</source>
        <translation>Température</translation>
    </message>
    <message>
        <source>Top-p</source>
        <translation>Top-p</translation>
    </message>
    <message>
        <source>Top-k (0 = off)</source>
        <translation>Top-k (0 = désactivé)</translation>
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
        <translation>Nombre maximal de jetons par réponse</translation>
    </message>
    <message>
        <source>Hardware</source>
        <translation>Matériel</translation>
    </message>
    <message>
        <source>GPUs to use</source>
        <translation>GPU à utiliser</translation>
    </message>
    <message>
        <source>e.g. 0,1 (empty: the CPU)</source>
        <translation>p. ex. 0,1 (vide : le processeur)</translation>
    </message>
    <message>
        <source>Storage</source>
        <translation>Stockage</translation>
    </message>
    <message>
        <source>Data folder</source>
        <translation>Dossier de données</translation>
    </message>
    <message>
        <source>Change…</source>
        <translation>Modifier…</translation>
    </message>
    <message>
        <source>Change the data folder</source>
        <translation>Modifier le dossier de données</translation>
    </message>
    <message>
        <source>The new data folder is used after Fathom restarts.</source>
        <translation>Le nouveau dossier de données sera utilisé après le redémarrage de Fathom.</translation>
    </message>
    <message>
        <source>Model folders</source>
        <translation>Dossiers de modèles</translation>
    </message>
    <message>
        <source>Remove model folder %1</source>
        <translation>Retirer le dossier de modèle %1</translation>
    </message>
    <message>
        <source>Add model folder…</source>
        <translation>Ajouter un dossier de modèle…</translation>
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
        <translation>Nouvelle discussion</translation>
    </message>
    <message>
        <source>Starts a new conversation (Ctrl+N)</source>
        <translation>Commence une nouvelle conversation (Ctrl+N)</translation>
    </message>
    <message>
        <source>New chat (Ctrl+N)</source>
        <translation>Nouvelle discussion (Ctrl+N)</translation>
    </message>
    <message>
        <source>Search conversations and documents</source>
        <translation>Rechercher dans les conversations et les documents</translation>
    </message>
    <message>
        <source>Search conversations</source>
        <translation>Rechercher dans les conversations</translation>
    </message>
    <message>
        <source>Conversations</source>
        <translation>Conversations</translation>
    </message>
    <message>
        <source>No archived conversations.</source>
        <translation>Aucune conversation archivée.</translation>
    </message>
    <message>
        <source>No conversations yet. Type a message to start one.</source>
        <translation>Aucune conversation pour l’instant. Écrivez un message pour en commencer une.</translation>
    </message>
    <message>
        <source>Search results</source>
        <translation>Résultats de la recherche</translation>
    </message>
    <message>
        <source>%1, page %2</source>
        <translation>%1, page %2</translation>
    </message>
    <message>
        <source>Nothing found.</source>
        <translation>Aucun résultat.</translation>
    </message>
    <message>
        <source>Undo</source>
        <translation>Annuler</translation>
    </message>
    <message>
        <source>Undo delete</source>
        <translation>Annuler la suppression</translation>
    </message>
    <message>
        <source>Models and backends</source>
        <translation>Modèles et moteurs</translation>
    </message>
    <message>
        <source>Loading %1…</source>
        <translation>Chargement de %1…</translation>
    </message>
    <message>
        <source>Model failed to load</source>
        <translation>Échec du chargement du modèle</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>Aucun modèle chargé</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>Paramètres</translation>
    </message>
    <message>
        <source>Settings (Ctrl+,)</source>
        <translation>Paramètres (Ctrl+,)</translation>
    </message>
    <message>
        <source>Active</source>
        <translation>Actives</translation>
    </message>
    <message>
        <source>Archived</source>
        <translation>Archivées</translation>
    </message>
    <message>
        <source>Show archived conversations</source>
        <translation>Afficher les conversations archivées</translation>
    </message>
    <message>
        <source>Keyboard shortcuts</source>
        <translation>Raccourcis clavier</translation>
    </message>
    <message>
        <source>Keyboard shortcuts (F1)</source>
        <translation>Raccourcis clavier (F1)</translation>
    </message>
</context>
<context>
    <name>fathom::EngineHost</name>
    <message>
        <source>Loading was cancelled.</source>
        <translation>Le chargement a été annulé.</translation>
    </message>
    <message>
        <source>No model is loaded. Load one in Models before sending.</source>
        <translation>Aucun modèle n’est chargé. Chargez-en un dans Modèles avant d’envoyer.</translation>
    </message>
    <message>
        <source>The engine stopped without finishing the answer.</source>
        <translation>Le moteur s’est arrêté sans terminer la réponse.</translation>
    </message>
</context>
<context>
    <name>fathom::ui::AppController</name>
    <message>
        <source>The disk is full: Fathom cannot save. Free some space; nothing typed or generated has been discarded. (%1)</source>
        <translation>Le disque est plein : Fathom ne peut pas enregistrer. Libérez de l’espace ; rien de ce qui a été saisi ou généré n’a été perdu. (%1)</translation>
    </message>
    <message>
        <source>Saving failed: %1</source>
        <translation>Échec de l’enregistrement : %1</translation>
    </message>
    <message>
        <source>The database %1 could not be opened: %2</source>
        <translation>Impossible d’ouvrir la base de données %1 : %2</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ChatController</name>
    <message>
        <source>The model ran out of memory while answering. Remove documents from the conversation, lower the context length in Settings, or use more GPUs. (%1)</source>
        <translation>Le modèle a manqué de mémoire en répondant. Retirez des documents de la conversation, réduisez la longueur du contexte dans Paramètres ou utilisez plus de GPU. (%1)</translation>
    </message>
    <message>
        <source>The disk is full, so the answer could not be saved. Free some space; the text generated so far is kept. (%1)</source>
        <translation>Le disque est plein, la réponse n’a pas pu être enregistrée. Libérez de l’espace ; le texte déjà généré est conservé. (%1)</translation>
    </message>
    <message>
        <source>The model server could not be reached: %1. Check the server address in Models and try again.</source>
        <translation>Le serveur du modèle est injoignable : %1. Vérifiez l’adresse du serveur dans Modèles et réessayez.</translation>
    </message>
    <message>
        <source>The GPU reported an error: %1. Reload the model in Models.</source>
        <translation>Le GPU a signalé une erreur : %1. Rechargez le modèle dans Modèles.</translation>
    </message>
    <message>
        <source>The answer failed: %1</source>
        <translation>La réponse a échoué : %1</translation>
    </message>
    <message>
        <source>The system prompt could not be saved: %1</source>
        <translation>Impossible d’enregistrer le prompt système : %1</translation>
    </message>
    <message>
        <source>The conversation could not be opened: %1</source>
        <translation>Impossible d’ouvrir la conversation : %1</translation>
    </message>
    <message>
        <source>The messages could not be loaded: %1</source>
        <translation>Impossible de charger les messages : %1</translation>
    </message>
    <message>
        <source>The conversation could not be created: %1</source>
        <translation>Impossible de créer la conversation : %1</translation>
    </message>
    <message>
        <source>The model is still loading. Your message is kept; send it when loading has finished.</source>
        <translation>Le modèle est encore en cours de chargement. Votre message est conservé ; envoyez-le une fois le chargement terminé.</translation>
    </message>
    <message>
        <source>No model is loaded. Open Models and load one (or the demo model); your message is kept.</source>
        <translation>Aucun modèle n’est chargé. Ouvrez Modèles et chargez-en un (ou le modèle de démonstration) ; votre message est conservé.</translation>
    </message>
    <message>
        <source>Your message could not be saved: %1</source>
        <translation>Impossible d’enregistrer votre message : %1</translation>
    </message>
    <message>
        <source>The answer could not be started: %1</source>
        <translation>Impossible de commencer la réponse : %1</translation>
    </message>
    <message>
        <source>The user attached these documents. Cite pages as [document, page N].</source>
        <translation>L’utilisateur a joint ces documents. Cite les pages sous la forme [document, page N].</translation>
    </message>
    <message>
        <source>The answer could not be saved: %1</source>
        <translation>Impossible d’enregistrer la réponse : %1</translation>
    </message>
    <message>
        <source>No model is loaded. Open Models and load one to regenerate.</source>
        <translation>Aucun modèle n’est chargé. Ouvrez Modèles et chargez-en un pour régénérer.</translation>
    </message>
    <message>
        <source>Could not regenerate: %1</source>
        <translation>Impossible de régénérer : %1</translation>
    </message>
    <message>
        <source>No model is loaded. Open Models and load one; your edit is kept.</source>
        <translation>Aucun modèle n’est chargé. Ouvrez Modèles et chargez-en un ; votre modification est conservée.</translation>
    </message>
    <message>
        <source>Your edit could not be saved: %1</source>
        <translation>Impossible d’enregistrer votre modification : %1</translation>
    </message>
    <message>
        <source>Could not switch to that branch: %1</source>
        <translation>Impossible de passer à cette branche : %1</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ConversationListModel</name>
    <message>
        <source>New conversation</source>
        <translation>Nouvelle conversation</translation>
    </message>
    <message>
        <source>Pinned</source>
        <translation>Épinglées</translation>
    </message>
    <message>
        <source>Today</source>
        <translation>Aujourd’hui</translation>
    </message>
    <message>
        <source>Yesterday</source>
        <translation>Hier</translation>
    </message>
    <message>
        <source>Previous 7 days</source>
        <translation>7 derniers jours</translation>
    </message>
    <message>
        <source>Previous 30 days</source>
        <translation>30 derniers jours</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ConversationsController</name>
    <message>
        <source>Deleted “%1”</source>
        <translation>« %1 » supprimée</translation>
    </message>
    <message>
        <source>New conversation</source>
        <translation>Nouvelle conversation</translation>
    </message>
    <message>
        <source>The conversations could not be loaded: %1</source>
        <translation>Impossible de charger les conversations : %1</translation>
    </message>
    <message>
        <source>The conversation could not be renamed: %1</source>
        <translation>Impossible de renommer la conversation : %1</translation>
    </message>
    <message>
        <source>The conversation could not be deleted: %1</source>
        <translation>Impossible de supprimer la conversation : %1</translation>
    </message>
    <message>
        <source>Could not pin the conversation: %1</source>
        <translation>Impossible d’épingler la conversation : %1</translation>
    </message>
    <message>
        <source>Could not archive the conversation: %1</source>
        <translation>Impossible d’archiver la conversation : %1</translation>
    </message>
</context>
<context>
    <name>fathom::ui::DocumentsController</name>
    <message>
        <source>The documents could not be loaded: %1</source>
        <translation>Impossible de charger les documents : %1</translation>
    </message>
    <message>
        <source>%1 is not a file that can be attached.</source>
        <translation>%1 n’est pas un fichier qui peut être joint.</translation>
    </message>
    <message>
        <source>%1 could not be read: %2</source>
        <translation>Impossible de lire %1 : %2</translation>
    </message>
    <message>
        <source>The document could not be saved: %1</source>
        <translation>Impossible d’enregistrer le document : %1</translation>
    </message>
    <message>
        <source>The document could not be removed: %1</source>
        <translation>Impossible de retirer le document : %1</translation>
    </message>
    <message>
        <source>The document could not be opened: %1</source>
        <translation>Impossible d’ouvrir le document : %1</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ModelsController</name>
    <message>
        <source>Looking for NVIDIA GPUs…</source>
        <translation>Recherche des GPU NVIDIA…</translation>
    </message>
    <message>
        <source>GPU %1: %2, %3 GiB, compute capability %4.%5</source>
        <translation>GPU %1 : %2, %3 Gio, capacité de calcul %4.%5</translation>
    </message>
    <message>
        <source>not usable: %1</source>
        <translation>inutilisable : %1</translation>
    </message>
    <message>
        <source>unsupported compute capability</source>
        <translation>capacité de calcul non prise en charge</translation>
    </message>
    <message>
        <source>%1 (driver %2, CUDA runtime %3)</source>
        <translation>%1 (pilote %2, environnement d’exécution CUDA %3)</translation>
    </message>
    <message>
        <source>Could not load the model %1: %2</source>
        <translation>Impossible de charger le modèle %1 : %2</translation>
    </message>
    <message>
        <source>CPU</source>
        <translation>Processeur (CPU)</translation>
    </message>
    <message>
        <source>NVIDIA GPUs (CUDA)</source>
        <translation>GPU NVIDIA (CUDA)</translation>
    </message>
    <message>
        <source>Remote server</source>
        <translation>Serveur distant</translation>
    </message>
    <message>
        <source>Demo model (random weights)</source>
        <translation>Modèle de démonstration (poids aléatoires)</translation>
    </message>
    <message>
        <source>The folder %1 does not exist.</source>
        <translation>Le dossier %1 n’existe pas.</translation>
    </message>
    <message>
        <source>%1 has no config.json: this is not a model folder in the Hugging Face layout.</source>
        <translation>%1 ne contient pas de config.json : ce n’est pas un dossier de modèle au format Hugging Face.</translation>
    </message>
    <message>
        <source>The model configuration %1 is not usable: %2</source>
        <translation>La configuration du modèle %1 est inutilisable : %2</translation>
    </message>
    <message>
        <source>%1 has no tokenizer.json; copy it from the model's download.</source>
        <translation>%1 ne contient pas de tokenizer.json ; copiez-le depuis le téléchargement du modèle.</translation>
    </message>
    <message>
        <source>%1 has no weights (*.safetensors files).</source>
        <translation>%1 ne contient pas de poids (fichiers *.safetensors).</translation>
    </message>
    <message>
        <source>Creating the demo model</source>
        <translation>Création du modèle de démonstration</translation>
    </message>
    <message>
        <source>Could not create the demo model: %1</source>
        <translation>Impossible de créer le modèle de démonstration : %1</translation>
    </message>
    <message>
        <source>Starting</source>
        <translation>Démarrage</translation>
    </message>
</context>
<context>
    <name>fathom::ui::SettingsController</name>
    <message>
        <source>&quot;%1&quot; is not a server address (for example https://api.deepseek.com or http://gpu01:8000/v1).</source>
        <translation>« %1 » n’est pas une adresse de serveur (par exemple https://api.deepseek.com ou http://gpu01:8000/v1).</translation>
    </message>
    <message>
        <source>The API key was not saved: %1</source>
        <translation>La clé d’API n’a pas été enregistrée : %1</translation>
    </message>
    <message>
        <source>The API key of %1 is missing from the keychain; enter it again in Settings.</source>
        <translation>La clé d’API de %1 est absente du trousseau ; saisissez-la de nouveau dans les Paramètres.</translation>
    </message>
    <message>
        <source>No remote server with id %1.</source>
        <translation>Aucun serveur distant avec l’identifiant %1.</translation>
    </message>
    <message>
        <source>Serving on %1</source>
        <translation>Service actif sur %1</translation>
    </message>
    <message>
        <source>The API server did not start: %1</source>
        <translation>Le serveur d’API n’a pas démarré : %1</translation>
    </message>
    <message>
        <source>System language</source>
        <translation>Langue du système</translation>
    </message>
</context>
<context>
    <name>fathom::ui::BackendListModel</name>
    <message>
        <source>%1, model %2</source>
        <translation>%1, modèle %2</translation>
    </message>
</context>
</TS>