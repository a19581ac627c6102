<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="zh_CN">
<context>
    <name>BackendFactory</name>
    <message>
        <source>The CUDA backend cannot be used: %1</source>
        <translation>无法使用 CUDA 后端：%1</translation>
    </message>
    <message>
        <source>The CPU engine is not part of this build of Fathom.</source>
        <translation>此版本的 Fathom 不包含 CPU 推理引擎。</translation>
    </message>
    <message>
        <source>This build of Fathom has no CUDA support (built without the CUDA toolkit).</source>
        <translation>此版本的 Fathom 不支持 CUDA（构建时未使用 CUDA 工具包）。</translation>
    </message>
    <message>
        <source>This build of Fathom has no remote-server support (built without libcurl).</source>
        <translation>此版本的 Fathom 不支持远程服务器（构建时未使用 libcurl）。</translation>
    </message>
    <message>
        <source>Unknown backend kind.</source>
        <translation>未知的后端类型。</translation>
    </message>
    <message>
        <source>OpenAI-compatible server (vLLM, SGLang, DeepSeek API)</source>
        <translation>OpenAI 兼容服务器（vLLM、SGLang、DeepSeek API）</translation>
    </message>
    <message>
        <source>This build of Fathom has no remote-server support.</source>
        <translation>此版本的 Fathom 不支持远程服务器。</translation>
    </message>
</context>
<context>
    <name>ChatView</name>
    <message>
        <source>New conversation</source>
        <translation>新对话</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <source>System prompt</source>
        <translation>系统提示词</translation>
    </message>
    <message>
        <source>System prompt of this conversation</source>
        <translation>此对话的系统提示词</translation>
    </message>
    <message>
        <source>Documents (%1)</source>
        <translation>文档（%1）</translation>
    </message>
    <message>
        <source>Show or hide the documents panel</source>
        <translation>显示或隐藏文档面板</translation>
    </message>
    <message>
        <source>Documents panel (Ctrl+D)</source>
        <translation>文档面板（Ctrl+D）</translation>
    </message>
    <message>
        <source>You are using the demo model: a tiny model with random weights. Its answers are noise. Load a real model in Models.</source>
        <translation>您正在使用演示模型：一个权重随机的微型模型，它的回答毫无意义。请在“模型”中加载真实模型。</translation>
    </message>
    <message>
        <source>System prompt for this conversation</source>
        <translation>此对话的系统提示词</translation>
    </message>
    <message>
        <source>e.g. You are a careful analyst. Answer in English and cite pages.</source>
        <translation>例如：你是一名严谨的分析师。请用中文回答并注明页码。</translation>
    </message>
    <message>
        <source>Messages</source>
        <translation>消息</translation>
    </message>
    <message>
        <source>Ask a question, or drop documents here to analyse them.</source>
        <translation>提出问题，或将文档拖放到此处进行分析。</translation>
    </message>
    <message>
        <source>Enter sends, Shift+Enter starts a new line. Press F1 for all keyboard shortcuts.</source>
        <translation>按 Enter 发送，Shift+Enter 换行。按 F1 查看所有快捷键。</translation>
    </message>
    <message>
        <source>Open Models</source>
        <translation>打开模型</translation>
    </message>
</context>
<context>
    <name>Composer</name>
    <message>
        <source>Attach documents</source>
        <translation>附加文档</translation>
    </message>
    <message>
        <source>Documents (*.pdf *.docx *.txt *.md *.html *.htm *.csv *.json *.py *.cpp *.h *.js *.ts *.java *.go *.rs)</source>
        <translation>文档 (*.pdf *.docx *.txt *.md *.html *.htm *.csv *.json *.py *.cpp *.h *.js *.ts *.java *.go *.rs)</translation>
    </message>
    <message>
        <source>All files (*)</source>
        <translation>所有文件 (*)</translation>
    </message>
    <message>
        <source>Message Fathom… (Enter sends, Shift+Enter for a new line)</source>
        <translation>给 Fathom 发消息…（Enter 发送，Shift+Enter 换行）</translation>
    </message>
    <message>
        <source>Type a message; load a model in Models to send it</source>
        <translation>输入消息；在“模型”中加载模型后即可发送</translation>
    </message>
    <message>
        <source>Message</source>
        <translation>消息</translation>
    </message>
    <message>
        <source>Enter sends, Shift+Enter starts a new line</source>
        <translation>Enter 发送，Shift+Enter 换行</translation>
    </message>
    <message>
        <source>Attach</source>
        <translation>附加</translation>
    </message>
    <message>
        <source>Attach documents (Ctrl+O), or drop files on the window</source>
        <translation>附加文档（Ctrl+O），或将文件拖放到窗口中</translation>
    </message>
    <message>
        <source>Reasoning:</source>
        <translation>推理：</translation>
    </message>
    <message>
        <source>Reasoning mode</source>
        <translation>推理模式</translation>
    </message>
    <message>
        <source>Off</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>High</source>
        <translation>高</translation>
    </message>
    <message>
        <source>Max</source>
        <translation>最大</translation>
    </message>
    <message>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <source>Send message</source>
        <translation>发送消息</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <source>Stop generating</source>
        <translation>停止生成</translation>
    </message>
    <message>
        <source>Stop (Esc)</source>
        <translation>停止（Esc）</translation>
    </message>
</context>
<context>
    <name>ContextMeter</name>
    <message>
        <source>Context used: %1 of %2 tokens</source>
        <translation>已用上下文：%1 / %2 个词元</translation>
    </message>
    <message>
        <source>Context ≈%1 / %2 tokens</source>
        <translation>上下文 ≈%1 / %2 词元</translation>
    </message>
    <message>
        <source>System prompt: %1 tokens
Documents: %2 tokens
Conversation: %3 tokens
Limit: %4 tokens</source>
        <translation>系统提示词：%1 个词元
文档：%2 个词元
对话：%3 个词元
上限：%4 个词元</translation>
    </message>
</context>
<context>
    <name>ConversationDelegate</name>
    <message>
        <source>Pinned conversation</source>
        <translation>已置顶的对话</translation>
    </message>
    <message>
        <source>Conversation</source>
        <translation>对话</translation>
    </message>
    <message>
        <source>Conversation title</source>
        <translation>对话标题</translation>
    </message>
    <message>
        <source>Conversation actions</source>
        <translation>对话操作</translation>
    </message>
    <message>
        <source>Rename</source>
        <translation>重命名</translation>
    </message>
    <message>
        <source>Unpin</source>
        <translation>取消置顶</translation>
    </message>
    <message>
        <source>Pin</source>
        <translation>置顶</translation>
    </message>
    <message>
        <source>Unarchive</source>
        <translation>取消归档</translation>
    </message>
    <message>
        <source>Archive</source>
        <translation>归档</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
</context>
<context>
    <name>DemoModel</name>
    <message>
        <source>Cannot create the demo model folder %1.</source>
        <translation>无法创建演示模型文件夹 %1。</translation>
    </message>
    <message>
        <source>Cannot write %1: %2</source>
        <translation>无法写入 %1：%2</translation>
    </message>
    <message>
        <source>Cannot write the demo model in %1: %2</source>
        <translation>无法在 %1 中写入演示模型：%2</translation>
    </message>
</context>
<context>
    <name>DocumentViewer</name>
    <message>
        <source>Back to the document list</source>
        <translation>返回文档列表</translation>
    </message>
    <message>
        <source>Previous page</source>
        <translation>上一页</translation>
    </message>
    <message>
        <source>Page %1 of %2</source>
        <translation>第 %1 页，共 %2 页</translation>
    </message>
    <message>
        <source>Next page</source>
        <translation>下一页</translation>
    </message>
    <message>
        <source>Text of page %1</source>
        <translation>第 %1 页的文本</translation>
    </message>
</context>
<context>
    <name>DocumentsPanel</name>
    <message>
        <source>Documents</source>
        <translation>文档</translation>
    </message>
    <message>
        <source>Documents of this conversation</source>
        <translation>此对话的文档</translation>
    </message>
    <message>
        <source>Remove %1 from this conversation</source>
        <translation>从此对话中移除 %1</translation>
    </message>
    <message>
        <source>Reading %1</source>
        <translation>正在读取 %1</translation>
    </message>
    <message>
        <source>Could not be read: %1</source>
        <translation>无法读取：%1</translation>
    </message>
    <message>
        <source>Reading…</source>
        <translation>正在读取…</translation>
    </message>
    <message numerus="yes">
        <source>%n page(s)</source>
        <translation>
            <numerusform>%n 页</numerusform></translation>
    </message>
    <message>
        <source>≈%1 tokens</source>
        <translation>≈%1 个词元</translation>
    </message>
    <message>
        <source>%1 tokens</source>
        <translation>%1 个词元</translation>
    </message>
    <message>
        <source>some pages have no text (scanned, no OCR)</source>
        <translation>部分页面没有文本（扫描件，无 OCR）</translation>
    </message>
    <message>
        <source>No documents. Attach files or drop them on the window: PDF, DOCX, text, Markdown, HTML and source code.</source>
        <translation>没有文档。请附加文件或将其拖放到窗口中：PDF、DOCX、文本、Markdown、HTML 和源代码。</translation>
    </message>
</context>
<context>
    <name>HelpSheet</name>
    <message>
        <source>Keyboard shortcuts</source>
        <translation>键盘快捷键</translation>
    </message>
    <message>
        <source>New chat</source>
        <translation>新对话</translation>
    </message>
    <message>
        <source>Search conversations</source>
        <translation>搜索对话</translation>
    </message>
    <message>
        <source>Send message</source>
        <translation>发送消息</translation>
    </message>
    <message>
        <source>Enter</source>
        <translation>Enter</translation>
    </message>
    <message>
        <source>New line in the message</source>
        <translation>在消息中换行</translation>
    </message>
    <message>
        <source>Shift+Enter</source>
        <translation>Shift+Enter</translation>
    </message>
    <message>
        <source>Stop generating</source>
        <translation>停止生成</translation>
    </message>
    <message>
        <source>Esc</source>
        <translation>Esc</translation>
    </message>
    <message>
        <source>Regenerate the last answer</source>
        <translation>重新生成最后一个回答</translation>
    </message>
    <message>
        <source>Focus the message box</source>
        <translation>聚焦到消息输入框</translation>
    </message>
    <message>
        <source>Attach documents</source>
        <translation>附加文档</translation>
    </message>
    <message>
        <source>Show or hide documents</source>
        <translation>显示或隐藏文档</translation>
    </message>
    <message>
        <source>Models and backends</source>
        <translation>模型与后端</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>Rename the selected conversation</source>
        <translation>重命名所选对话</translation>
    </message>
    <message>
        <source>Delete the selected conversation</source>
        <translation>删除所选对话</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <source>This help</source>
        <translation>本帮助</translation>
    </message>
</context>
<context>
    <name>Main</name>
    <message>
        <source>Fathom — demo model (random weights)</source>
        <translation>Fathom — 演示模型（随机权重）</translation>
    </message>
    <message>
        <source>Fathom</source>
        <translation>Fathom</translation>
    </message>
    <message>
        <source>Drop files to attach them to this conversation</source>
        <translation>拖放文件以将其附加到此对话</translation>
    </message>
</context>
<context>
    <name>MarkdownView</name>
    <message>
        <source>code</source>
        <translation>代码</translation>
    </message>
    <message>
        <source>Copied</source>
        <translation>已复制</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>Copy code</source>
        <translation>复制代码</translation>
    </message>
    <message>
        <source>Code block</source>
        <translation>代码块</translation>
    </message>
</context>
<context>
    <name>MessageDelegate</name>
    <message>
        <source>Your message</source>
        <translation>您的消息</translation>
    </message>
    <message>
        <source>Answer</source>
        <translation>回答</translation>
    </message>
    <message>
        <source>Thinking…</source>
        <translation>思考中…</translation>
    </message>
    <message>
        <source>Thought for %1 s</source>
        <translation>思考了 %1 秒</translation>
    </message>
    <message>
        <source>Reasoning</source>
        <translation>推理过程</translation>
    </message>
    <message>
        <source>Hide reasoning</source>
        <translation>隐藏推理过程</translation>
    </message>
    <message>
        <source>Show reasoning</source>
        <translation>显示推理过程</translation>
    </message>
    <message>
        <source>Edit message</source>
        <translation>编辑消息</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Cancel editing</source>
        <translation>取消编辑</translation>
    </message>
    <message>
        <source>Save and send</source>
        <translation>保存并发送</translation>
    </message>
    <message>
        <source>Save the edit and send it as a new branch</source>
        <translation>保存修改并作为新分支发送</translation>
    </message>
    <message>
        <source>This answer was cut off when Fathom stopped. The text above is what was saved; regenerate to get a complete answer.</source>
        <translation>Fathom 停止时此回答被中断。上面是已保存的文本；请重新生成以获得完整回答。</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>Copy message</source>
        <translation>复制消息</translation>
    </message>
    <message>
        <source>Edit</source>
        <translation>编辑</translation>
    </message>
    <message>
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <source>Regenerate answer</source>
        <translation>重新生成回答</translation>
    </message>
    <message>
        <source>Previous branch</source>
        <translation>上一个分支</translation>
    </message>
    <message>
        <source>%1 / %2</source>
        <translation>%1 / %2</translation>
    </message>
    <message>
        <source>Branch %1 of %2</source>
        <translation>第 %1 个分支，共 %2 个</translation>
    </message>
    <message>
        <source>Next branch</source>
        <translation>下一个分支</translation>
    </message>
    <message>
        <source>%1 tokens</source>
        <translation>%1 个词元</translation>
    </message>
    <message>
        <source>first token %1 s</source>
        <translation>首个词元 %1 秒</translation>
    </message>
    <message>
        <source>%1 tokens/s</source>
        <translation>%1 词元/秒</translation>
    </message>
    <message>
        <source>stopped at the token limit</source>
        <translation>已达到词元上限而停止</translation>
    </message>
    <message>
        <source>stopped</source>
        <translation>已停止</translation>
    </message>
</context>
<context>
    <name>ModelsDialog</name>
    <message>
        <source>Models and backends</source>
        <translation>模型与后端</translation>
    </message>
    <message>
        <source>Choose a model folder (config.json, tokenizer.json, *.safetensors)</source>
        <translation>选择模型文件夹（config.json、tokenizer.json、*.safetensors）</translation>
    </message>
    <message>
        <source>Loaded: %1 on %2</source>
        <translation>已加载：%1（运行于 %2）</translation>
    </message>
    <message>
        <source>Loading %1…</source>
        <translation>正在加载 %1…</translation>
    </message>
    <message>
        <source>Creating the demo model…</source>
        <translation>正在创建演示模型…</translation>
    </message>
    <message>
        <source>Loading failed</source>
        <translation>加载失败</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <source>Loading progress</source>
        <translation>加载进度</translation>
    </message>
    <message>
        <source>Cancel loading</source>
        <translation>取消加载</translation>
    </message>
    <message>
        <source>Unload</source>
        <translation>卸载</translation>
    </message>
    <message>
        <source>Unload the model</source>
        <translation>卸载模型</translation>
    </message>
    <message>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>A tiny model with the DeepSeek V4 architecture and RANDOM weights, created on this computer. Its answers are noise; it lets you try every screen without the real weights.</source>
        <translation>一个具有 DeepSeek V4 架构、权重随机的微型模型，在本机上生成。它的回答毫无意义；它让您无需真实权重即可试用所有界面。</translation>
    </message>
    <message>
        <source>Create and load</source>
        <translation>创建并加载</translation>
    </message>
    <message>
        <source>Load</source>
        <translation>加载</translation>
    </message>
    <message>
        <source>Load %1</source>
        <translation>加载 %1</translation>
    </message>
    <message>
        <source>Remove %1 from the list</source>
        <translation>从列表中移除 %1</translation>
    </message>
    <message>
        <source>Add model folder…</source>
        <translation>添加模型文件夹…</translation>
    </message>
    <message>
        <source>Add a model folder</source>
        <translation>添加模型文件夹</translation>
    </message>
    <message>
        <source>or type a folder path</source>
        <translation>或输入文件夹路径</translation>
    </message>
    <message>
        <source>Model folder path</source>
        <translation>模型文件夹路径</translation>
    </message>
    <message>
        <source>Remote server (vLLM, SGLang, DeepSeek API)</source>
        <translation>远程服务器（vLLM、SGLang、DeepSeek API）</translation>
    </message>
    <message>
        <source>Address</source>
        <translation>地址</translation>
    </message>
    <message>
        <source>Server address</source>
        <translation>服务器地址</translation>
    </message>
    <message>
        <source>Model id</source>
        <translation>模型 ID</translation>
    </message>
    <message>
        <source>empty: the server's first model</source>
        <translation>留空：使用服务器的第一个模型</translation>
    </message>
    <message>
        <source>API key</source>
        <translation>API 密钥</translation>
    </message>
    <message>
        <source>optional</source>
        <translation>可选</translation>
    </message>
    <message>
        <source>Connect</source>
        <translation>连接</translation>
    </message>
    <message>
        <source>Connect to the server</source>
        <translation>连接到服务器</translation>
    </message>
    <message>
        <source>Backends</source>
        <translation>后端</translation>
    </message>
    <message>
        <source>Unavailable: %1</source>
        <translation>不可用：%1</translation>
    </message>
</context>
<context>
    <name>Notifications</name>
    <message>
        <source>Dismiss</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>Dismiss message</source>
        <translation>关闭此消息</translation>
    </message>
</context>
<context>
    <name>PdfPageProvider</name>
    <message>
        <source>Cannot open the PDF file %1.</source>
        <translation>无法打开 PDF 文件 %1。</translation>
    </message>
    <message>
        <source>%1 has no page %2.</source>
        <translation>%1 没有第 %2 页。</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Remote servers</source>
        <translation>远程服务器</translation>
    </message>
    <message>
        <source>key stored</source>
        <translation>已保存密钥</translation>
    </message>
    <message>
        <source>Connect</source>
        <translation>连接</translation>
    </message>
    <message>
        <source>Use remote server %1</source>
        <translation>使用远程服务器 %1</translation>
    </message>
    <message>
        <source>Remove remote server %1</source>
        <translation>移除远程服务器 %1</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>Office vLLM</source>
        <translation>办公室 vLLM</translation>
    </message>
    <message>
        <source>Remote server name</source>
        <translation>远程服务器名称</translation>
    </message>
    <message>
        <source>Address</source>
        <translation>地址</translation>
    </message>
    <message>
        <source>Remote server address</source>
        <translation>远程服务器地址</translation>
    </message>
    <message>
        <source>Model id</source>
        <translation>模型 ID</translation>
    </message>
    <message>
        <source>empty: the server&apos;s first model</source>
        <translation>留空：服务器的第一个模型</translation>
    </message>
    <message>
        <source>Remote model id</source>
        <translation>远程模型 ID</translation>
    </message>
    <message>
        <source>CA bundle</source>
        <translation>CA 证书包</translation>
    </message>
    <message>
        <source>optional PEM file for on-premises certificates</source>
        <translation>可选：内部证书的 PEM 文件</translation>
    </message>
    <message>
        <source>CA bundle file</source>
        <translation>CA 证书包文件</translation>
    </message>
    <message>
        <source>Proxy</source>
        <translation>代理</translation>
    </message>
    <message>
        <source>empty: the system&apos;s proxy settings</source>
        <translation>留空：使用系统代理设置</translation>
    </message>
    <message>
        <source>API key</source>
        <translation>API 密钥</translation>
    </message>
    <message>
        <source>optional</source>
        <translation>可选</translation>
    </message>
    <message>
        <source>Remote server API key</source>
        <translation>远程服务器的 API 密钥</translation>
    </message>
    <message>
        <source>Add remote server</source>
        <translation>添加远程服务器</translation>
    </message>
    <message>
        <source>API server</source>
        <translation>API 服务器</translation>
    </message>
    <message>
        <source>Serve the loaded model</source>
        <translation>提供已加载的模型</translation>
    </message>
    <message>
        <source>Serve the loaded model over the OpenAI-compatible API</source>
        <translation>通过兼容 OpenAI 的 API 提供已加载的模型</translation>
    </message>
    <message>
        <source>API server address</source>
        <translation>API 服务器地址</translation>
    </message>
    <message>
        <source>Port</source>
        <translation>端口</translation>
    </message>
    <message>
        <source>API server port</source>
        <translation>API 服务器端口</translation>
    </message>
    <message>
        <source>Concurrent requests</source>
        <translation>并发请求数</translation>
    </message>
    <message>
        <source>API server concurrent requests</source>
        <translation>API 服务器并发请求数</translation>
    </message>
    <message>
        <source>a key is stored</source>
        <translation>已保存一个密钥</translation>
    </message>
    <message>
        <source>required for addresses other than 127.0.0.1</source>
        <translation>地址不是 127.0.0.1 时必填</translation>
    </message>
    <message>
        <source>API server key</source>
        <translation>API 服务器密钥</translation>
    </message>
    <message>
        <source>Set</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>Clear</source>
        <translation>清除</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>Choose the data folder</source>
        <translation>选择数据文件夹</translation>
    </message>
    <message>
        <source>Add a model folder</source>
        <translation>添加模型文件夹</translation>
    </message>
    <message>
        <source>Appearance</source>
        <translation>外观</translation>
    </message>
    <message>
        <source>Theme</source>
        <translation>主题</translation>
    </message>
    <message>
        <source>System</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <source>Light</source>
        <translation>浅色</translation>
    </message>
    <message>
        <source>Dark</source>
        <translation>深色</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <source>Font size</source>
        <translation>字号</translation>
    </message>
    <message>
        <source>Generation</source>
        <translation>生成</translation>
    </message>
    <message>
        <source>Context length (tokens)</source>
        <translation>上下文长度（词元）</translation>
    </message>
    <message>
        <source>Context length</source>
        <translation>上下文长度</translation>
    </message>
    <message>
        <source>Temperature</source>
        <translation>温度</translation>
    </message>
    <message>
        <source>Top-p</source>
        <translation>Top-p</translation>
    </message>
    <message>
        <source>Top-k (0 = off)</source>
        <translation>Top-k（0 = 关闭）</translation>
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
        <translation>回答最大词元数</translation>
    </message>
    <message>
        <source>Hardware</source>
        <translation>硬件</translation>
    </message>
    <message>
        <source>GPUs to use</source>
        <translation>使用的 GPU</translation>
    </message>
    <message>
        <source>e.g. 0,1 (empty: the CPU)</source>
        <translation>例如 0,1（留空：使用 CPU）</translation>
    </message>
    <message>
        <source>Storage</source>
        <translation>存储</translation>
    </message>
    <message>
        <source>Data folder</source>
        <translation>数据文件夹</translation>
    </message>
    <message>
        <source>Change…</source>
        <translation>更改…</translation>
    </message>
    <message>
        <source>Change the data folder</source>
        <translation>更改数据文件夹</translation>
    </message>
    <message>
        <source>The new data folder is used after Fathom restarts.</source>
        <translation>新的数据文件夹将在 Fathom 重启后生效。</translation>
    </message>
    <message>
        <source>Model folders</source>
        <translation>模型文件夹</translation>
    </message>
    <message>
        <source>Remove model folder %1</source>
        <translation>移除模型文件夹 %1</translation>
    </message>
    <message>
        <source>Add model folder…</source>
        <translation>添加模型文件夹…</translation>
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
        <translation>新对话</translation>
    </message>
    <message>
        <source>Starts a new conversation (Ctrl+N)</source>
        <translation>开始新对话（Ctrl+N）</translation>
    </message>
    <message>
        <source>New chat (Ctrl+N)</source>
        <translation>新对话（Ctrl+N）</translation>
    </message>
    <message>
        <source>Search conversations and documents</source>
        <translation>搜索对话和文档</translation>
    </message>
    <message>
        <source>Search conversations</source>
        <translation>搜索对话</translation>
    </message>
    <message>
        <source>Conversations</source>
        <translation>对话</translation>
    </message>
    <message>
        <source>No archived conversations.</source>
        <translation>没有已归档的对话。</translation>
    </message>
    <message>
        <source>No conversations yet. Type a message to start one.</source>
        <translation>还没有对话。输入一条消息即可开始。</translation>
    </message>
    <message>
        <source>Search results</source>
        <translation>搜索结果</translation>
    </message>
    <message>
        <source>%1, page %2</source>
        <translation>%1，第 %2 页</translation>
    </message>
    <message>
        <source>Nothing found.</source>
        <translation>未找到结果。</translation>
    </message>
    <message>
        <source>Undo</source>
        <translation>撤销</translation>
    </message>
    <message>
        <source>Undo delete</source>
        <translation>撤销删除</translation>
    </message>
    <message>
        <source>Models and backends</source>
        <translation>模型与后端</translation>
    </message>
    <message>
        <source>Loading %1…</source>
        <translation>正在加载 %1…</translation>
    </message>
    <message>
        <source>Model failed to load</source>
        <translation>模型加载失败</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>Settings (Ctrl+,)</source>
        <translation>设置（Ctrl+,）</translation>
    </message>
    <message>
        <source>Active</source>
        <translation>活动</translation>
    </message>
    <message>
        <source>Archived</source>
        <translation>已归档</translation>
    </message>
    <message>
        <source>Show archived conversations</source>
        <translation>显示已归档的对话</translation>
    </message>
    <message>
        <source>Keyboard shortcuts</source>
        <translation>键盘快捷键</translation>
    </message>
    <message>
        <source>Keyboard shortcuts (F1)</source>
        <translation>键盘快捷键（F1）</translation>
    </message>
</context>
<context>
    <name>fathom::EngineHost</name>
    <message>
        <source>Loading was cancelled.</source>
        <translation>已取消加载。</translation>
    </message>
    <message>
        <source>No model is loaded. Load one in Models before sending.</source>
        <translation>未加载模型。发送前请先在“模型”中加载一个模型。</translation>
    </message>
    <message>
        <source>The engine stopped without finishing the answer.</source>
        <translation>推理引擎在回答完成前停止了。</translation>
    </message>
</context>
<context>
    <name>fathom::ui::AppController</name>
    <message>
        <source>The disk is full: Fathom cannot save. Free some space; nothing typed or generated has been discarded. (%1)</source>
        <translation>磁盘已满：Fathom 无法保存。请释放一些空间；已输入或生成的内容都没有丢弃。（%1）</translation>
    </message>
    <message>
        <source>Saving failed: %1</source>
        <translation>保存失败：%1</translation>
    </message>
    <message>
        <source>The database %1 could not be opened: %2</source>
        <translation>无法打开数据库 %1：%2</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ChatController</name>
    <message>
        <source>The model ran out of memory while answering. Remove documents from the conversation, lower the context length in Settings, or use more GPUs. (%1)</source>
        <translation>模型在回答时内存不足。请从对话中移除文档、在“设置”中降低上下文长度，或使用更多 GPU。（%1）</translation>
    </message>
    <message>
        <source>The disk is full, so the answer could not be saved. Free some space; the text generated so far is kept. (%1)</source>
        <translation>磁盘已满，无法保存回答。请释放一些空间；已生成的文本会保留。（%1）</translation>
    </message>
    <message>
        <source>The model server could not be reached: %1. Check the server address in Models and try again.</source>
        <translation>无法连接到模型服务器：%1。请在“模型”中检查服务器地址后重试。</translation>
    </message>
    <message>
        <source>The GPU reported an error: %1. Reload the model in Models.</source>
        <translation>GPU 报告了错误：%1。请在“模型”中重新加载模型。</translation>
    </message>
    <message>
        <source>The answer failed: %1</source>
        <translation>回答失败：%1</translation>
    </message>
    <message>
        <source>The system prompt could not be saved: %1</source>
        <translation>无法保存系统提示词：%1</translation>
    </message>
    <message>
        <source>The conversation could not be opened: %1</source>
        <translation>无法打开对话：%1</translation>
    </message>
    <message>
        <source>The messages could not be loaded: %1</source>
        <translation>无法加载消息：%1</translation>
    </message>
    <message>
        <source>The conversation could not be created: %1</source>
        <translation>无法创建对话：%1</translation>
    </message>
    <message>
        <source>The model is still loading. Your message is kept; send it when loading has finished.</source>
        <translation>模型仍在加载。您的消息已保留；加载完成后再发送。</translation>
    </message>
    <message>
        <source>No model is loaded. Open Models and load one (or the demo model); your message is kept.</source>
        <translation>未加载模型。请打开“模型”并加载一个模型（或演示模型）；您的消息已保留。</translation>
    </message>
    <message>
        <source>Your message could not be saved: %1</source>
        <translation>无法保存您的消息：%1</translation>
    </message>
    <message>
        <source>The answer could not be started: %1</source>
        <translation>无法开始回答：%1</translation>
    </message>
    <message>
        <source>The user attached these documents. Cite pages as [document, page N].</source>
        <translation>用户附加了以下文档。请以 [文档, 第 N 页] 的形式引用页码。</translation>
    </message>
    <message>
        <source>The answer could not be saved: %1</source>
        <translation>无法保存回答：%1</translation>
    </message>
    <message>
        <source>No model is loaded. Open Models and load one to regenerate.</source>
        <translation>未加载模型。请打开“模型”并加载一个模型后再重新生成。</translation>
    </message>
    <message>
        <source>Could not regenerate: %1</source>
        <translation>无法重新生成：%1</translation>
    </message>
    <message>
        <source>No model is loaded. Open Models and load one; your edit is kept.</source>
        <translation>未加载模型。请打开“模型”并加载一个模型；您的修改已保留。</translation>
    </message>
    <message>
        <source>Your edit could not be saved: %1</source>
        <translation>无法保存您的修改：%1</translation>
    </message>
    <message>
        <source>Could not switch to that branch: %1</source>
        <translation>无法切换到该分支：%1</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ConversationListModel</name>
    <message>
        <source>New conversation</source>
        <translation>新对话</translation>
    </message>
    <message>
        <source>Pinned</source>
        <translation>已置顶</translation>
    </message>
    <message>
        <source>Today</source>
        <translation>今天</translation>
    </message>
    <message>
        <source>Yesterday</source>
        <translation>昨天</translation>
    </message>
    <message>
        <source>Previous 7 days</source>
        <translation>过去 7 天</translation>
    </message>
    <message>
        <source>Previous 30 days</source>
        <translation>过去 30 天</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ConversationsController</name>
    <message>
        <source>Deleted “%1”</source>
        <translation>已删除“%1”</translation>
    </message>
    <message>
        <source>New conversation</source>
        <translation>新对话</translation>
    </message>
    <message>
        <source>The conversations could not be loaded: %1</source>
        <translation>无法加载对话：%1</translation>
    </message>
    <message>
        <source>The conversation could not be renamed: %1</source>
        <translation>无法重命名对话：%1</translation>
    </message>
    <message>
        <source>The conversation could not be deleted: %1</source>
        <translation>无法删除对话：%1</translation>
    </message>
    <message>
        <source>Could not pin the conversation: %1</source>
        <translation>无法置顶对话：%1</translation>
    </message>
    <message>
        <source>Could not archive the conversation: %1</source>
        <translation>无法归档对话：%1</translation>
    </message>
</context>
<context>
    <name>fathom::ui::DocumentsController</name>
    <message>
        <source>The documents could not be loaded: %1</source>
        <translation>无法加载文档：%1</translation>
    </message>
    <message>
        <source>%1 is not a file that can be attached.</source>
        <translation>%1 不是可以附加的文件。</translation>
    </message>
    <message>
        <source>%1 could not be read: %2</source>
        <translation>无法读取 %1：%2</translation>
    </message>
    <message>
        <source>The document could not be saved: %1</source>
        <translation>无法保存文档：%1</translation>
    </message>
    <message>
        <source>The document could not be removed: %1</source>
        <translation>无法移除文档：%1</translation>
    </message>
    <message>
        <source>The document could not be opened: %1</source>
        <translation>无法打开文档：%1</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ModelsController</name>
    <message>
        <source>Looking for NVIDIA GPUs…</source>
        <translation>正在查找 NVIDIA GPU…</translation>
    </message>
    <message>
        <source>GPU %1: %2, %3 GiB, compute capability %4.%5</source>
        <translation>GPU %1：%2，%3 GiB，计算能力 %4.%5</translation>
    </message>
    <message>
        <source>not usable: %1</source>
        <translation>不可用：%1</translation>
    </message>
    <message>
        <source>unsupported compute capability</source>
        <translation>不支持的计算能力</translation>
    </message>
    <message>
        <source>%1 (driver %2, CUDA runtime %3)</source>
        <translation>%1（驱动 %2，CUDA 运行时 %3）</translation>
    </message>
    <message>
        <source>Could not load the model %1: %2</source>
        <translation>无法加载模型 %1：%2</translation>
    </message>
    <message>
        <source>CPU</source>
        <translation>CPU</translation>
    </message>
    <message>
        <source>NVIDIA GPUs (CUDA)</source>
        <translation>NVIDIA GPU（CUDA）</translation>
    </message>
    <message>
        <source>Remote server</source>
        <translation>远程服务器</translation>
    </message>
    <message>
        <source>Demo model (random weights)</source>
        <translation>演示模型（随机权重）</translation>
    </message>
    <message>
        <source>The folder %1 does not exist.</source>
        <translation>文件夹 %1 不存在。</translation>
    </message>
    <message>
        <source>%1 has no config.json: this is not a model folder in the Hugging Face layout.</source>
        <translation>%1 中没有 config.json：这不是 Hugging Face 格式的模型文件夹。</translation>
    </message>
    <message>
        <source>The model configuration %1 is not usable: %2</source>
        <translation>模型配置 %1 无法使用：%2</translation>
    </message>
    <message>
        <source>%1 has no tokenizer.json; copy it from the model's download.</source>
        <translation>%1 中没有 tokenizer.json；请从模型的下载文件中复制。</translation>
    </message>
    <message>
        <source>%1 has no weights (*.safetensors files).</source>
        <translation>%1 中没有权重（*.safetensors 文件）。</translation>
    </message>
    <message>
        <source>Creating the demo model</source>
        <translation>正在创建演示模型</translation>
    </message>
    <message>
        <source>Could not create the demo model: %1</source>
        <translation>无法创建演示模型：%1</translation>
    </message>
    <message>
        <source>Starting</source>
        <translation>正在启动</translation>
    </message>
</context>
<context>
    <name>fathom::ui::SettingsController</name>
    <message>
        <source>&quot;%1&quot; is not a server address (for example https://api.deepseek.com or http://gpu01:8000/v1).</source>
        <translation>“%1”不是服务器地址（例如 https://api.deepseek.com 或 http://gpu01:8000/v1）。</translation>
    </message>
    <message>
        <source>The API key was not saved: %1</source>
        <translation>API 密钥未保存：%1</translation>
    </message>
    <message>
        <source>The API key of %1 is missing from the keychain; enter it again in Settings.</source>
        <translation>钥匙串中缺少 %1 的 API 密钥；请在设置中重新输入。</translation>
    </message>
    <message>
        <source>No remote server with id %1.</source>
        <translation>没有 ID 为 %1 的远程服务器。</translation>
    </message>
    <message>
        <source>Serving on %1</source>
        <translation>正在 %1 上提供服务</translation>
    </message>
    <message>
        <source>The API server did not start: %1</source>
        <translation>API 服务器未能启动：%1</translation>
    </message>
    <message>
        <source>System language</source>
        <translation>系统语言</translation>
    </message>
</context>
<context>
    <name>fathom::ui::BackendListModel</name>
    <message>
        <source>%1, model %2</source>
        <translation>%1，模型 %2</translation>
    </message>
</context>
</TS>