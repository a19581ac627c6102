<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="es">
<context>
    <name>BackendFactory</name>
    <message>
        <source>The CUDA backend cannot be used: %1</source>
        <translation>No se puede usar el backend CUDA: %1</translation>
    </message>
    <message>
        <source>The CPU engine is not part of this build of Fathom.</source>
        <translation>El motor de CPU no forma parte de esta compilación de Fathom.</translation>
    </message>
    <message>
        <source>This build of Fathom has no CUDA support (built without the CUDA toolkit).</source>
        <translation>Esta compilación de Fathom no admite CUDA (compilada sin el toolkit de CUDA).</translation>
    </message>
    <message>
        <source>This build of Fathom has no remote-server support (built without libcurl).</source>
        <translation>Esta compilación de Fathom no admite servidores remotos (compilada sin libcurl).</translation>
    </message>
    <message>
        <source>Unknown backend kind.</source>
        <translation>Tipo de motor desconocido.</translation>
    </message>
    <message>
        <source>OpenAI-compatible server (vLLM, SGLang, DeepSeek API)</source>
        <translation>Servidor compatible con OpenAI (vLLM, SGLang, API de DeepSeek)</translation>
    </message>
    <message>
        <source>This build of Fathom has no remote-server support.</source>
        <translation>Esta compilación de Fathom no admite servidores remotos.</translation>
    </message>
</context>
<context>
    <name>ChatView</name>
    <message>
        <source>New conversation</source>
        <translation>Nueva conversación</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>Ningún modelo cargado</translation>
    </message>
    <message>
        <source>System prompt</source>
        <translation>Instrucción del sistema</translation>
    </message>
    <message>
        <source>System prompt of this conversation</source>
        <translation>Instrucción del sistema de esta conversación</translation>
    </message>
    <message>
        <source>Documents (%1)</source>
        <translation>Documentos (%1)</translation>
    </message>
    <message>
        <source>Show or hide the documents panel</source>
        <translation>Mostrar u ocultar el panel de documentos</translation>
    </message>
    <message>
        <source>Documents panel (Ctrl+D)</source>
        <translation>Panel de documentos (Ctrl+D)</translation>
    </message>
    <message>
        <source>You are using the demo model: a tiny model with random weights. Its answers are noise. Load a real model in Models.</source>
        <translation>Está usando el modelo de demostración: un modelo diminuto con pesos aleatorios. Sus respuestas son ruido. Cargue un modelo real en Modelos.</translation>
    </message>
    <message>
        <source>System prompt for this conversation</source>
        <translation>Instrucción del sistema para esta conversación</translation>
    </message>
    <message>
        <source>e.g. You are a careful analyst. Answer in English and cite pages.</source>
        <translation>p. ej. Eres un analista cuidadoso. Responde en español y cita las páginas.</translation>
    </message>
    <message>
        <source>Messages</source>
        <translation>Mensajes</translation>
    </message>
    <message>
        <source>Ask a question, or drop documents here to analyse them.</source>
        <translation>Haga una pregunta o suelte documentos aquí para analizarlos.</translation>
    </message>
    <message>
        <source>Enter sends, Shift+Enter starts a new line. Press F1 for all keyboard shortcuts.</source>
        <translation>Intro envía, Mayús+Intro inicia una línea nueva. Pulse F1 para ver todos los atajos de teclado.</translation>
    </message>
    <message>
        <source>Open Models</source>
        <translation>Abrir Modelos</translation>
    </message>
</context>
<context>
    <name>Composer</name>
    <message>
        <source>Attach documents</source>
        <translation>Adjuntar documentos</translation>
    </message>
    <message>
        <source>Documents (*.pdf *.docx *.txt *.md *.html *.htm *.csv *.json *.py *.cpp *.h *.js *.ts *.java *.go *.rs)</source>
        <translation>Documentos (*.pdf *.docx *.txt *.md *.html *.htm *.csv *.json *.py *.cpp *.h *.js *.ts *.java *.go *.rs)</translation>
    </message>
    <message>
        <source>All files (*)</source>
        <translation>Todos los archivos (*)</translation>
    </message>
    <message>
        <source>Message Fathom… (Enter sends, Shift+Enter for a new line)</source>
        <translation>Escriba a Fathom… (Intro envía, Mayús+Intro para una línea nueva)</translation>
    </message>
    <message>
        <source>Type a message; load a model in Models to send it</source>
        <translation>Escriba un mensaje; cargue un modelo en Modelos para enviarlo</translation>
    </message>
    <message>
        <source>Message</source>
        <translation>Mensaje</translation>
    </message>
    <message>
        <source>Enter sends, Shift+Enter starts a new line</source>
        <translation>Intro envía, Mayús+Intro inicia una línea nueva</translation>
    </message>
    <message>
        <source>Attach</source>
        <translation>Adjuntar</translation>
    </message>
    <message>
        <source>Attach documents (Ctrl+O), or drop files on the window</source>
        <translation>Adjuntar documentos (Ctrl+O) o soltar archivos en la ventana</translation>
    </message>
    <message>
        <source>Reasoning:</source>
        <translation>Razonamiento:</translation>
    </message>
    <message>
        <source>Reasoning mode</source>
        <translation>Modo de razonamiento</translation>
    </message>
    <message>
        <source>Off</source>
        <translation>Desactivado</translation>
    </message>
    <message>
        <source>High</source>
        <translation>Alto</translation>
    </message>
    <message>
        <source>Max</source>
        <translation>Máximo</translation>
    </message>
    <message>
        <source>Send</source>
        <translation>Enviar</translation>
    </message>
    <message>
        <source>Send message</source>
        <translation>Enviar mensaje</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>Detener</translation>
    </message>
    <message>
        <source>Stop generating</source>
        <translation>Detener la generación</translation>
    </message>
    <message>
        <source>Stop (Esc)</source>
        <translation>Detener (Esc)</translation>
    </message>
</context>
<context>
    <name>ContextMeter</name>
    <message>
        <source>Context used: %1 of %2 tokens</source>
        <translation>Contexto usado: %1 de %2 tokens</translation>
    </message>
    <message>
        <source>Context ≈%1 / %2 tokens</source>
        <translation>Contexto ≈%1 / %2 tokens</translation>
    </message>
    <message>
        <source>System prompt: %1 tokens
Documents: %2 tokens
Conversation: %3 tokens
Limit: %4 tokens</source>
        <translation>Instrucción del sistema: %1 tokens
Documentos: %2 tokens
Conversación: %3 tokens
Límite: %4 tokens</translation>
    </message>
</context>
<context>
    <name>ConversationDelegate</name>
    <message>
        <source>Pinned conversation</source>
        <translation>Conversación fijada</translation>
    </message>
    <message>
        <source>Conversation</source>
        <translation>Conversación</translation>
    </message>
    <message>
        <source>Conversation title</source>
        <translation>Título de la conversación</translation>
    </message>
    <message>
        <source>Conversation actions</source>
        <translation>Acciones de la conversación</translation>
    </message>
    <message>
        <source>Rename</source>
        <translation>Cambiar nombre</translation>
    </message>
    <message>
        <source>Unpin</source>
        <translation>Desfijar</translation>
    </message>
    <message>
        <source>Pin</source>
        <translation>Fijar</translation>
    </message>
    <message>
        <source>Unarchive</source>
        <translation>Desarchivar</translation>
    </message>
    <message>
        <source>Archive</source>
        <translation>Archivar</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>Eliminar</translation>
    </message>
</context>
<context>
    <name>DemoModel</name>
    <message>
        <source>Cannot create the demo model folder %1.</source>
        <translation>No se puede crear la carpeta del modelo de demostración %1.</translation>
    </message>
    <message>
        <source>Cannot write %1: %2</source>
        <translation>No se puede escribir %1: %2</translation>
    </message>
    <message>
        <source>Cannot write the demo model in %1: %2</source>
        <translation>No se puede escribir el modelo de demostración en %1: %2</translation>
    </message>
</context>
<context>
    <name>DocumentViewer</name>
    <message>
        <source>Back to the document list</source>
        <translation>Volver a la lista de documentos</translation>
    </message>
    <message>
        <source>Previous page</source>
        <translation>Página anterior</translation>
    </message>
    <message>
        <source>Page %1 of %2</source>
        <translation>Página %1 de %2</translation>
    </message>
    <message>
        <source>Next page</source>
        <translation>Página siguiente</translation>
    </message>
    <message>
        <source>Text of page %1</source>
        <translation>Texto de la página %1</translation>
    </message>
</context>
<context>
    <name>DocumentsPanel</name>
    <message>
        <source>Documents</source>
        <translation>Documentos</translation>
    </message>
    <message>
        <source>Documents of this conversation</source>
        <translation>Documentos de esta conversación</translation>
    </message>
    <message>
        <source>Remove %1 from this conversation</source>
        <translation>Quitar %1 de esta conversación</translation>
    </message>
    <message>
        <source>Reading %1</source>
        <translation>Leyendo %1</translation>
    </message>
    <message>
        <source>Could not be read: %1</source>
        <translation>No se pudo leer: %1</translation>
    </message>
    <message>
        <source>Reading…</source>
        <translation>Leyendo…</translation>
    </message>
    <message numerus="yes">
        <source>%n page(s)</source>
        <translation>
            <numerusform>%n página</numerusform><numerusform>%n páginas</numerusform></translation>
    </message>
    <message>
        <source>≈%1 tokens</source>
        <translation>≈%1 tokens</translation>
    </message>
    <message>
        <source>%1 tokens</source>
        <translation>%1 tokens</translation>
    </message>
    <message>
        <source>some pages have no text (scanned, no OCR)</source>
        <translation>algunas páginas no tienen texto (escaneadas, sin OCR)</translation>
    </message>
    <message>
        <source>No documents. Attach files or drop them on the window: PDF, DOCX, text, Markdown, HTML and source code.</source>
        <translation>No hay documentos. Adjunte archivos o suéltelos en la ventana: PDF, DOCX, texto, Markdown, HTML y código fuente.</translation>
    </message>
</context>
<context>
    <name>HelpSheet</name>
    <message>
        <source>Keyboard shortcuts</source>
        <translation>Atajos de teclado</translation>
    </message>
    <message>
        <source>New chat</source>
        <translation>Nuevo chat</translation>
    </message>
    <message>
        <source>Search conversations</source>
        <translation>Buscar conversaciones</translation>
    </message>
    <message>
        <source>Send message</source>
        <translation>Enviar mensaje</translation>
    </message>
    <message>
        <source>Enter</source>
        <translation>Intro</translation>
    </message>
    <message>
        <source>New line in the message</source>
        <translation>Línea nueva en el mensaje</translation>
    </message>
    <message>
        <source>Shift+Enter</source>
        <translation>Mayús+Intro</translation>
    </message>
    <message>
        <source>Stop generating</source>
        <translation>Detener la generación</translation>
    </message>
    <message>
        <source>Esc</source>
        <translation>Esc</translation>
    </message>
    <message>
        <source>Regenerate the last answer</source>
        <translation>Regenerar la última respuesta</translation>
    </message>
    <message>
        <source>Focus the message box</source>
        <translation>Ir al cuadro de mensaje</translation>
    </message>
    <message>
        <source>Attach documents</source>
        <translation>Adjuntar documentos</translation>
    </message>
    <message>
        <source>Show or hide documents</source>
        <translation>Mostrar u ocultar documentos</translation>
    </message>
    <message>
        <source>Models and backends</source>
        <translation>Modelos y motores</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>Ajustes</translation>
    </message>
    <message>
        <source>Rename the selected conversation</source>
        <translation>Cambiar el nombre de la conversación seleccionada</translation>
    </message>
    <message>
        <source>Delete the selected conversation</source>
        <translation>Eliminar la conversación seleccionada</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>Eliminar</translation>
    </message>
    <message>
        <source>This help</source>
        <translation>Esta ayuda</translation>
    </message>
</context>
<context>
    <name>Main</name>
    <message>
        <source>Fathom — demo model (random weights)</source>
        <translation>Fathom — modelo de demostración (pesos aleatorios)</translation>
    </message>
    <message>
        <source>Fathom</source>
        <translation>Fathom</translation>
    </message>
    <message>
        <source>Drop files to attach them to this conversation</source>
        <translation>Suelte archivos para adjuntarlos a esta conversación</translation>
    </message>
</context>
<context>
    <name>MarkdownView</name>
    <message>
        <source>code</source>
        <translation>código</translation>
    </message>
    <message>
        <source>Copied</source>
        <translation>Copiado</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>Copiar</translation>
    </message>
    <message>
        <source>Copy code</source>
        <translation>Copiar código</translation>
    </message>
    <message>
        <source>Code block</source>
        <translation>Bloque de código</translation>
    </message>
</context>
<context>
    <name>MessageDelegate</name>
    <message>
        <source>Your message</source>
        <translation>Su mensaje</translation>
    </message>
    <message>
        <source>Answer</source>
        <translation>Respuesta</translation>
    </message>
    <message>
        <source>Thinking…</source>
        <translation>Pensando…</translation>
    </message>
    <message>
        <source>Thought for %1 s</source>
        <translation>Pensó durante %1 s</translation>
    </message>
    <message>
        <source>Reasoning</source>
        <translation>Razonamiento</translation>
    </message>
    <message>
        <source>Hide reasoning</source>
        <translation>Ocultar el razonamiento</translation>
    </message>
    <message>
        <source>Show reasoning</source>
        <translation>Mostrar el razonamiento</translation>
    </message>
    <message>
        <source>Edit message</source>
        <translation>Editar mensaje</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Cancelar</translation>
    </message>
    <message>
        <source>Cancel editing</source>
        <translation>Cancelar la edición</translation>
    </message>
    <message>
        <source>Save and send</source>
        <translation>Guardar y enviar</translation>
    </message>
    <message>
        <source>Save the edit and send it as a new branch</source>
        <translation>Guardar la edición y enviarla como una rama nueva</translation>
    </message>
    <message>
        <source>This answer was cut off when Fathom stopped. The text above is what was saved; regenerate to get a complete answer.</source>
        <translation>Esta respuesta se cortó cuando Fathom se detuvo. El texto de arriba es lo que se guardó; regenere para obtener una respuesta completa.</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>Copiar</translation>
    </message>
    <message>
        <source>Copy message</source>
        <translation>Copiar mensaje</translation>
    </message>
    <message>
        <source>Edit</source>
        <translation>Editar</translation>
    </message>
    <message>
        <source>Regenerate</source>
        <translation>Regenerar</translation>
    </message>
    <message>
        <source>Regenerate answer</source>
        <translation>Regenerar respuesta</translation>
    </message>
    <message>
        <source>Previous branch</source>
        <translation>Rama anterior</translation>
    </message>
    <message>
        <source>%1 / %2</source>
        <translation>%1 / %2</translation>
    </message>
    <message>
        <source>Branch %1 of %2</source>
        <translation>Rama %1 de %2</translation>
    </message>
    <message>
        <source>Next branch</source>
        <translation>Rama siguiente</translation>
    </message>
    <message>
        <source>%1 tokens</source>
        <translation>%1 tokens</translation>
    </message>
    <message>
        <source>first token %1 s</source>
        <translation>primer token en %1 s</translation>
    </message>
    <message>
        <source>%1 tokens/s</source>
        <translation>%1 tokens/s</translation>
    </message>
    <message>
        <source>stopped at the token limit</source>
        <translation>detenida en el límite de tokens</translation>
    </message>
    <message>
        <source>stopped</source>
        <translation>detenida</translation>
    </message>
</context>
<context>
    <name>ModelsDialog</name>
    <message>
        <source>Models and backends</source>
        <translation>Modelos y motores</translation>
    </message>
    <message>
        <source>Choose a model folder (config.json, tokenizer.json, *.safetensors)</source>
        <translation>Elegir una carpeta de modelo (config.json, tokenizer.json, *.safetensors)</translation>
    </message>
    <message>
        <source>Loaded: %1 on %2</source>
        <translation>Cargado: %1 en %2</translation>
    </message>
    <message>
        <source>Loading %1…</source>
        <translation>Cargando %1…</translation>
    </message>
    <message>
        <source>Creating the demo model…</source>
        <translation>Creando el modelo de demostración…</translation>
    </message>
    <message>
        <source>Loading failed</source>
        <translation>Error al cargar</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>Ningún modelo cargado</translation>
    </message>
    <message>
        <source>Loading progress</source>
        <translation>Progreso de carga</translation>
    </message>
    <message>
        <source>Cancel loading</source>
        <translation>Cancelar la carga</translation>
    </message>
    <message>
        <source>Unload</source>
        <translation>Descargar</translation>
    </message>
    <message>
        <source>Unload the model</source>
        <translation>Descargar el modelo de la memoria</translation>
    </message>
    <message>
        <source>Models</source>
        <translation>Modelos</translation>
    </message>
    <message>
        <source>A tiny model with the DeepSeek V4 architecture and RANDOM weights, created on this computer. Its answers are noise; it lets you try every screen without the real weights.</source>
        <translation>Un modelo diminuto con la arquitectura DeepSeek V4 y pesos ALEATORIOS, creado en este equipo. Sus respuestas son ruido; permite probar todas las pantallas sin los pesos reales.</translation>
    </message>
    <message>
        <source>Create and load</source>
        <translation>Crear y cargar</translation>
    </message>
    <message>
        <source>Load</source>
        <translation>Cargar</translation>
    </message>
    <message>
        <source>Load %1</source>
        <translation>Cargar %1</translation>
    </message>
    <message>
        <source>Remove %1 from the list</source>
        <translation>Quitar %1 de la lista</translation>
    </message>
    <message>
        <source>Add model folder…</source>
        <translation>Añadir carpeta de modelo…</translation>
    </message>
    <message>
        <source>Add a model folder</source>
        <translation>Añadir una carpeta de modelo</translation>
    </message>
    <message>
        <source>or type a folder path</source>
        <translation>o escriba la ruta de una carpeta</translation>
    </message>
    <message>
        <source>Model folder path</source>
        <translation>Ruta de la carpeta del modelo</translation>
    </message>
    <message>
        <source>Remote server (vLLM, SGLang, DeepSeek API)</source>
        <translation>Servidor remoto (vLLM, SGLang, API de DeepSeek)</translation>
    </message>
    <message>
        <source>Address</source>
        <translation>Dirección</translation>
    </message>
    <message>
        <source>Server address</source>
        <translation>Dirección del servidor</translation>
    </message>
    <message>
        <source>Model id</source>
        <translation>ID del modelo</translation>
    </message>
    <message>
        <source>empty: the server's first model</source>
        <translation>vacío: el primer modelo del servidor</translation>
    </message>
    <message>
        <source>API key</source>
        <translation>Clave de API</translation>
    </message>
    <message>
        <source>optional</source>
        <translation>opcional</translation>
    </message>
    <message>
        <source>Connect</source>
        <translation>Conectar</translation>
    </message>
    <message>
        <source>Connect to the server</source>
        <translation>Conectar con el servidor</translation>
    </message>
    <message>
        <source>Backends</source>
        <translation>Motores</translation>
    </message>
    <message>
        <source>Unavailable: %1</source>
        <translation>No disponible: %1</translation>
    </message>
</context>
<context>
    <name>Notifications</name>
    <message>
        <source>Dismiss</source>
        <translation>Descartar</translation>
    </message>
    <message>
        <source>Dismiss message</source>
        <translation>Descartar el mensaje</translation>
    </message>
</context>
<context>
    <name>PdfPageProvider</name>
    <message>
        <source>Cannot open the PDF file %1.</source>
        <translation>No se puede abrir el archivo PDF %1.</translation>
    </message>
    <message>
        <source>%1 has no page %2.</source>
        <translation>%1 no tiene página %2.</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Remote servers</source>
        <translation>Servidores remotos</translation>
    </message>
    <message>
        <source>key stored</source>
        <translation>clave guardada</translation>
    </message>
    <message>
        <source>Connect</source>
        <translation>Conectar</translation>
    </message>
    <message>
        <source>Use remote server %1</source>
        <translation>Usar el servidor remoto %1</translation>
    </message>
    <message>
        <source>Remove remote server %1</source>
        <translation>Quitar el servidor remoto %1</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Nombre</translation>
    </message>
    <message>
        <source>Office vLLM</source>
        <translation>vLLM de la oficina</translation>
    </message>
    <message>
        <source>Remote server name</source>
        <translation>Nombre del servidor remoto</translation>
    </message>
    <message>
        <source>Address</source>
        <translation>Dirección</translation>
    </message>
    <message>
        <source>Remote server address</source>
        <translation>Dirección del servidor remoto</translation>
    </message>
    <message>
        <source>Model id</source>
        <translation>ID del modelo</translation>
    </message>
    <message>
        <source>empty: the server&apos;s first model</source>
        <translation>vacío: el primer modelo del servidor</translation>
    </message>
    <message>
        <source>Remote model id</source>
        <translation>ID del modelo remoto</translation>
    </message>
    <message>
        <source>CA bundle</source>
        <translation>Paquete de CA</translation>
    </message>
    <message>
        <source>optional PEM file for on-premises certificates</source>
        <translation>archivo PEM opcional para certificados propios</translation>
    </message>
    <message>
        <source>CA bundle file</source>
        <translation>Archivo del paquete de CA</translation>
    </message>
    <message>
        <source>Proxy</source>
        <translation>Proxy</translation>
    </message>
    <message>
        <source>empty: the system&apos;s proxy settings</source>
        <translation>vacío: la configuración de proxy del sistema</translation>
    </message>
    <message>
        <source>API key</source>
        <translation>Clave de API</translation>
    </message>
    <message>
        <source>optional</source>
        <translation>opcional</translation>
    </message>
    <message>
        <source>Remote server API key</source>
        <translation>Clave de API del servidor remoto</translation>
    </message>
    <message>
        <source>Add remote server</source>
        <translation>Añadir servidor remoto</translation>
    </message>
    <message>
        <source>API server</source>
        <translation>Servidor de API</translation>
    </message>
    <message>
        <source>Serve the loaded model</source>
        <translation>Servir el modelo cargado</translation>
    </message>
    <message>
        <source>Serve the loaded model over the OpenAI-compatible API</source>
        <translation>Servir el modelo cargado mediante la API compatible con OpenAI</translation>
    </message>
    <message>
        <source>API server address</source>
        <translation>Dirección del servidor de API</translation>
    </message>
    <message>
        <source>Port</source>
        <translation>Puerto</translation>
    </message>
    <message>
        <source>API server port</source>
        <translation>Puerto del servidor de API</translation>
    </message>
    <message>
        <source>Concurrent requests</source>
        <translation>Solicitudes simultáneas</translation>
    </message>
    <message>
        <source>API server concurrent requests</source>
        <translation>Solicitudes simultáneas del servidor de API</translation>
    </message>
    <message>
        <source>a key is stored</source>
        <translation>hay una clave guardada</translation>
    </message>
    <message>
        <source>required for addresses other than 127.0.0.1</source>
        <translation>obligatoria para direcciones distintas de 127.0.0.1</translation>
    </message>
    <message>
        <source>API server key</source>
        <translation>Clave del servidor de API</translation>
    </message>
    <message>
        <source>Set</source>
        <translation>Establecer</translation>
    </message>
    <message>
        <source>Clear</source>
        <translation>Borrar</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>Ajustes</translation>
    </message>
    <message>
        <source>Choose the data folder</source>
        <translation>Elegir la carpeta de datos</translation>
    </message>
    <message>
        <source>Add a model folder</source>
        <translation>Añadir una carpeta de modelo</translation>
    </message>
    <message>
        <source>Appearance</source>
        <translation>Apariencia</translation>
    </message>
    <message>
        <source>Theme</source>
        <translation>Tema</translation>
    </message>
    <message>
        <source>System</source>
        <translation>Sistema</translation>
    </message>
    <message>
        <source>Light</source>
        <translation>Claro</translation>
    </message>
    <message>
        <source>Dark</source>
        <translation>Oscuro</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>Idioma</translation>
    </message>
    <message>
        <source>Font size</source>
        <translation>Tamaño de letra</translation>
    </message>
    <message>
        <source>Generation</source>
        <translation>Generación</translation>
    </message>
    <message>
        <source>Context length (tokens)</source>
        <translation>Longitud del contexto (tokens)</translation>
    </message>
    <message>
        <source>Context length</source>
        <translation>Longitud del contexto</translation>
    </message>
    <message>
        <source>Temperature</source>
        <translation>Temperatura</translation>
    </message>
    <message>
        <source>Top-p</source>
        <translation>Top-p</translation>
    </message>
    <message>
        <source>Top-k (0 = off)</source>
        <translation>Top-k (0 = desactivado)</translation>
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
        <translation>Máximo de tokens por respuesta</translation>
    </message>
    <message>
        <source>Hardware</source>
        <translation>Hardware</translation>
    </message>
    <message>
        <source>GPUs to use</source>
        <translation>GPU que se usarán</translation>
    </message>
    <message>
        <source>e.g. 0,1 (empty: the CPU)</source>
        <translation>p. ej. 0,1 (vacío: la CPU)</translation>
    </message>
    <message>
        <source>Storage</source>
        <translation>Almacenamiento</translation>
    </message>
    <message>
        <source>Data folder</source>
        <translation>Carpeta de datos</translation>
    </message>
    <message>
        <source>Change…</source>
        <translation>Cambiar…</translation>
    </message>
    <message>
        <source>Change the data folder</source>
        <translation>Cambiar la carpeta de datos</translation>
    </message>
    <message>
        <source>The new data folder is used after Fathom restarts.</source>
        <translation>La nueva carpeta de datos se usará después de reiniciar Fathom.</translation>
    </message>
    <message>
        <source>Model folders</source>
        <translation>Carpetas de modelos</translation>
    </message>
    <message>
        <source>Remove model folder %1</source>
        <translation>Quitar la carpeta de modelo %1</translation>
    </message>
    <message>
        <source>Add model folder…</source>
        <translation>Añadir carpeta de modelo…</translation>
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
        <translation>Nuevo chat</translation>
    </message>
    <message>
        <source>Starts a new conversation (Ctrl+N)</source>
        <translation>Inicia una conversación nueva (Ctrl+N)</translation>
    </message>
    <message>
        <source>New chat (Ctrl+N)</source>
        <translation>Nuevo chat (Ctrl+N)</translation>
    </message>
    <message>
        <source>Search conversations and documents</source>
        <translation>Buscar en conversaciones y documentos</translation>
    </message>
    <message>
        <source>Search conversations</source>
        <translation>Buscar conversaciones</translation>
    </message>
    <message>
        <source>Conversations</source>
        <translation>Conversaciones</translation>
    </message>
    <message>
        <source>No archived conversations.</source>
        <translation>No hay conversaciones archivadas.</translation>
    </message>
    <message>
        <source>No conversations yet. Type a message to start one.</source>
        <translation>Todavía no hay conversaciones. Escriba un mensaje para empezar una.</translation>
    </message>
    <message>
        <source>Search results</source>
        <translation>Resultados de la búsqueda</translation>
    </message>
    <message>
        <source>%1, page %2</source>
        <translation>%1, página %2</translation>
    </message>
    <message>
        <source>Nothing found.</source>
        <translation>No se encontró nada.</translation>
    </message>
    <message>
        <source>Undo</source>
        <translation>Deshacer</translation>
    </message>
    <message>
        <source>Undo delete</source>
        <translation>Deshacer la eliminación</translation>
    </message>
    <message>
        <source>Models and backends</source>
        <translation>Modelos y motores</translation>
    </message>
    <message>
        <source>Loading %1…</source>
        <translation>Cargando %1…</translation>
    </message>
    <message>
        <source>Model failed to load</source>
        <translation>No se pudo cargar el modelo</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>Ningún modelo cargado</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>Ajustes</translation>
    </message>
    <message>
        <source>Settings (Ctrl+,)</source>
        <translation>Ajustes (Ctrl+,)</translation>
    </message>
    <message>
        <source>Active</source>
        <translation>Activas</translation>
    </message>
    <message>
        <source>Archived</source>
        <translation>Archivadas</translation>
    </message>
    <message>
        <source>Show archived conversations</source>
        <translation>Mostrar las conversaciones archivadas</translation>
    </message>
    <message>
        <source>Keyboard shortcuts</source>
        <translation>Atajos de teclado</translation>
    </message>
    <message>
        <source>Keyboard shortcuts (F1)</source>
        <translation>Atajos de teclado (F1)</translation>
    </message>
</context>
<context>
    <name>fathom::EngineHost</name>
    <message>
        <source>Loading was cancelled.</source>
        <translation>Se canceló la carga.</translation>
    </message>
    <message>
        <source>No model is loaded. Load one in Models before sending.</source>
        <translation>No hay ningún modelo cargado. Cargue uno en Modelos antes de enviar.</translation>
    </message>
    <message>
        <source>The engine stopped without finishing the answer.</source>
        <translation>El motor se detuvo sin terminar la respuesta.</translation>
    </message>
</context>
<context>
    <name>fathom::ui::AppController</name>
    <message>
        <source>The disk is full: Fathom cannot save. Free some space; nothing typed or generated has been discarded. (%1)</source>
        <translation>El disco está lleno: Fathom no puede guardar. Libere espacio; no se ha descartado nada de lo escrito o generado. (%1)</translation>
    </message>
    <message>
        <source>Saving failed: %1</source>
        <translation>Error al guardar: %1</translation>
    </message>
    <message>
        <source>The database %1 could not be opened: %2</source>
        <translation>No se pudo abrir la base de datos %1: %2</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ChatController</name>
    <message>
        <source>The model ran out of memory while answering. Remove documents from the conversation, lower the context length in Settings, or use more GPUs. (%1)</source>
        <translation>El modelo se quedó sin memoria al responder. Quite documentos de la conversación, reduzca la longitud del contexto en Ajustes o use más GPU. (%1)</translation>
    </message>
    <message>
        <source>The disk is full, so the answer could not be saved. Free some space; the text generated so far is kept. (%1)</source>
        <translation>El disco está lleno y no se pudo guardar la respuesta. Libere espacio; el texto generado hasta ahora se conserva. (%1)</translation>
    </message>
    <message>
        <source>The model server could not be reached: %1. Check the server address in Models and try again.</source>
        <translation>No se pudo contactar con el servidor del modelo: %1. Compruebe la dirección del servidor en Modelos e inténtelo de nuevo.</translation>
    </message>
    <message>
        <source>The GPU reported an error: %1. Reload the model in Models.</source>
        <translation>La GPU informó de un error: %1. Vuelva a cargar el modelo en Modelos.</translation>
    </message>
    <message>
        <source>The answer failed: %1</source>
        <translation>La respuesta falló: %1</translation>
    </message>
    <message>
        <source>The system prompt could not be saved: %1</source>
        <translation>No se pudo guardar la instrucción del sistema: %1</translation>
    </message>
    <message>
        <source>The conversation could not be opened: %1</source>
        <translation>No se pudo abrir la conversación: %1</translation>
    </message>
    <message>
        <source>The messages could not be loaded: %1</source>
        <translation>No se pudieron cargar los mensajes: %1</translation>
    </message>
    <message>
        <source>The conversation could not be created: %1</source>
        <translation>No se pudo crear la conversación: %1</translation>
    </message>
    <message>
        <source>The model is still loading. Your message is kept; send it when loading has finished.</source>
        <translation>El modelo todavía se está cargando. Su mensaje se conserva; envíelo cuando termine la carga.</translation>
    </message>
    <message>
        <source>No model is loaded. Open Models and load one (or the demo model); your message is kept.</source>
        <translation>No hay ningún modelo cargado. Abra Modelos y cargue uno (o el modelo de demostración); su mensaje se conserva.</translation>
    </message>
    <message>
        <source>Your message could not be saved: %1</source>
        <translation>No se pudo guardar su mensaje: %1</translation>
    </message>
    <message>
        <source>The answer could not be started: %1</source>
        <translation>No se pudo iniciar la respuesta: %1</translation>
    </message>
    <message>
        <source>The user attached these documents. Cite pages as [document, page N].</source>
        <translation>El usuario adjuntó estos documentos. Cita las páginas como [documento, página N].</translation>
    </message>
    <message>
        <source>The answer could not be saved: %1</source>
        <translation>No se pudo guardar la respuesta: %1</translation>
    </message>
    <message>
        <source>No model is loaded. Open Models and load one to regenerate.</source>
        <translation>No hay ningún modelo cargado. Abra Modelos y cargue uno para regenerar.</translation>
    </message>
    <message>
        <source>Could not regenerate: %1</source>
        <translation>No se pudo regenerar: %1</translation>
    </message>
    <message>
        <source>No model is loaded. Open Models and load one; your edit is kept.</source>
        <translation>No hay ningún modelo cargado. Abra Modelos y cargue uno; su edición se conserva.</translation>
    </message>
    <message>
        <source>Your edit could not be saved: %1</source>
        <translation>No se pudo guardar su edición: %1</translation>
    </message>
    <message>
        <source>Could not switch to that branch: %1</source>
        <translation>No se pudo cambiar a esa rama: %1</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ConversationListModel</name>
    <message>
        <source>New conversation</source>
        <translation>Nueva conversación</translation>
    </message>
    <message>
        <source>Pinned</source>
        <translation>Fijadas</translation>
    </message>
    <message>
        <source>Today</source>
        <translation>Hoy</translation>
    </message>
    <message>
        <source>Yesterday</source>
        <translation>Ayer</translation>
    </message>
    <message>
        <source>Previous 7 days</source>
        <translation>Últimos 7 días</translation>
    </message>
    <message>
        <source>Previous 30 days</source>
        <translation>Últimos 30 días</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ConversationsController</name>
    <message>
        <source>Deleted “%1”</source>
        <translation>Se eliminó «%1»</translation>
    </message>
    <message>
        <source>New conversation</source>
        <translation>Nueva conversación</translation>
    </message>
    <message>
        <source>The conversations could not be loaded: %1</source>
        <translation>No se pudieron cargar las conversaciones: %1</translation>
    </message>
    <message>
        <source>The conversation could not be renamed: %1</source>
        <translation>No se pudo cambiar el nombre de la conversación: %1</translation>
    </message>
    <message>
        <source>The conversation could not be deleted: %1</source>
        <translation>No se pudo eliminar la conversación: %1</translation>
    </message>
    <message>
        <source>Could not pin the conversation: %1</source>
        <translation>No se pudo fijar la conversación: %1</translation>
    </message>
    <message>
        <source>Could not archive the conversation: %1</source>
        <translation>No se pudo archivar la conversación: %1</translation>
    </message>
</context>
<context>
    <name>fathom::ui::DocumentsController</name>
    <message>
        <source>The documents could not be loaded: %1</source>
        <translation>No se pudieron cargar los documentos: %1</translation>
    </message>
    <message>
        <source>%1 is not a file that can be attached.</source>
        <translation>%1 no es un archivo que se pueda adjuntar.</translation>
    </message>
    <message>
        <source>%1 could not be read: %2</source>
        <translation>No se pudo leer %1: %2</translation>
    </message>
    <message>
        <source>The document could not be saved: %1</source>
        <translation>No se pudo guardar el documento: %1</translation>
    </message>
    <message>
        <source>The document could not be removed: %1</source>
        <translation>No se pudo quitar el documento: %1</translation>
    </message>
    <message>
        <source>The document could not be opened: %1</source>
        <translation>No se pudo abrir el documento: %1</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ModelsController</name>
    <message>
        <source>Looking for NVIDIA GPUs…</source>
        <translation>Buscando GPU de NVIDIA…</translation>
    </message>
    <message>
        <source>GPU %1: %2, %3 GiB, compute capability %4.%5</source>
        <translation>GPU %1: %2, %3 GiB, capacidad de cómputo %4.%5</translation>
    </message>
    <message>
        <source>not usable: %1</source>
        <translation>no utilizable: %1</translation>
    </message>
    <message>
        <source>unsupported compute capability</source>
        <translation>capacidad de cómputo no compatible</translation>
    </message>
    <message>
        <source>%1 (driver %2, CUDA runtime %3)</source>
        <translation>%1 (controlador %2, entorno de ejecución CUDA %3)</translation>
    </message>
    <message>
        <source>Could not load the model %1: %2</source>
        <translation>No se pudo cargar el modelo %1: %2</translation>
    </message>
    <message>
        <source>CPU</source>
        <translation>CPU</translation>
    </message>
    <message>
        <source>NVIDIA GPUs (CUDA)</source>
        <translation>GPU NVIDIA (CUDA)</translation>
    </message>
    <message>
        <source>Remote server</source>
        <translation>Servidor remoto</translation>
    </message>
    <message>
        <source>Demo model (random weights)</source>
        <translation>Modelo de demostración (pesos aleatorios)</translation>
    </message>
    <message>
        <source>The folder %1 does not exist.</source>
        <translation>La carpeta %1 no existe.</translation>
    </message>
    <message>
        <source>%1 has no config.json: this is not a model folder in the Hugging Face layout.</source>
        <translation>%1 no tiene config.json: no es una carpeta de modelo con el formato de Hugging Face.</translation>
    </message>
    <message>
        <source>The model configuration %1 is not usable: %2</source>
        <translation>La configuración del modelo %1 no se puede usar: %2</translation>
    </message>
    <message>
        <source>%1 has no tokenizer.json; copy it from the model's download.</source>
        <translation>%1 no tiene tokenizer.json; cópielo de la descarga del modelo.</translation>
    </message>
    <message>
        <source>%1 has no weights (*.safetensors files).</source>
        <translation>%1 no tiene pesos (archivos *.safetensors).</translation>
    </message>
    <message>
        <source>Creating the demo model</source>
        <translation>Creando el modelo de demostración</translation>
    </message>
    <message>
        <source>Could not create the demo model: %1</source>
        <translation>No se pudo crear el modelo de demostración: %1</translation>
    </message>
    <message>
        <source>Starting</source>
        <translation>Iniciando</translation>
    </message>
</context>
<context>
    <name>fathom::ui::SettingsController</name>
    <message>
        <source>&quot;%1&quot; is not a server address (for example https://api.deepseek.com or http://gpu01:8000/v1).</source>
        <translation>«%1» no es una dirección de servidor (por ejemplo https://api.deepseek.com o http://gpu01:8000/v1).</translation>
    </message>
    <message>
        <source>The API key was not saved: %1</source>
        <translation>La clave de API no se guardó: %1</translation>
    </message>
    <message>
        <source>The API key of %1 is missing from the keychain; enter it again in Settings.</source>
        <translation>La clave de API de %1 no está en el llavero; vuelva a introducirla en Ajustes.</translation>
    </message>
    <message>
        <source>No remote server with id %1.</source>
        <translation>No hay ningún servidor remoto con el id %1.</translation>
    </message>
    <message>
        <source>Serving on %1</source>
        <translation>Sirviendo en %1</translation>
    </message>
    <message>
        <source>The API server did not start: %1</source>
        <translation>El servidor de API no se inició: %1</translation>
    </message>
    <message>
        <source>System language</source>
        <translation>Idioma del sistema</translation>
    </message>
</context>
<context>
    <name>fathom::ui::BackendListModel</name>
    <message>
        <source>%1, model %2</source>
        <translation>%1, modelo %2</translation>
    </message>
</context>
</TS>