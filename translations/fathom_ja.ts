<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="ja">
<context>
    <name>BackendFactory</name>
    <message>
        <source>The CUDA backend cannot be used: %1</source>
        <translation>CUDA バックエンドを使用できません: %1</translation>
    </message>
    <message>
        <source>The CPU engine is not part of this build of Fathom.</source>
        <translation>このビルドの Fathom には CPU エンジンが含まれていません。</translation>
    </message>
    <message>
        <source>This build of Fathom has no CUDA support (built without the CUDA toolkit).</source>
        <translation>このビルドの Fathom は CUDA に対応していません（CUDA ツールキットなしでビルドされました）。</translation>
    </message>
    <message>
        <source>This build of Fathom has no remote-server support (built without libcurl).</source>
        <translation>このビルドの Fathom はリモートサーバーに対応していません（libcurl なしでビルドされました）。</translation>
    </message>
    <message>
        <source>Unknown backend kind.</source>
        <translation>不明なバックエンドの種類です。</translation>
    </message>
    <message>
        <source>OpenAI-compatible server (vLLM, SGLang, DeepSeek API)</source>
        <translation>OpenAI 互換サーバー（vLLM、SGLang、DeepSeek API）</translation>
    </message>
    <message>
        <source>This build of Fathom has no remote-server support.</source>
        <translation>このビルドの Fathom はリモートサーバーに対応していません。</translation>
    </message>
</context>
<context>
    <name>ChatView</name>
    <message>
        <source>New conversation</source>
        <translation>新しい会話</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>モデルが読み込まれていません</translation>
    </message>
    <message>
        <source>System prompt</source>
        <translation>システムプロンプト</translation>
    </message>
    <message>
        <source>System prompt of this conversation</source>
        <translation>この会話のシステムプロンプト</translation>
    </message>
    <message>
        <source>Documents (%1)</source>
        <translation>ドキュメント（%1）</translation>
    </message>
    <message>
        <source>Show or hide the documents panel</source>
        <translation>ドキュメントパネルの表示／非表示</translation>
    </message>
    <message>
        <source>Documents panel (Ctrl+D)</source>
        <translation>ドキュメントパネル（Ctrl+D）</translation>
    </message>
    <message>
        <source>You are using the demo model: a tiny model with random weights. Its answers are noise. Load a real model in Models.</source>
        <translation>デモモデルを使用中です。ランダムな重みを持つ小さなモデルで、回答は無意味です。「モデル」で本物のモデルを読み込んでください。</translation>
    </message>
    <message>
        <source>System prompt for this conversation</source>
        <translation>この会話のシステムプロンプト</translation>
    </message>
    <message>
        <source>e.g. You are a careful analyst. Answer in English and cite pages.</source>
        <translation>例：あなたは慎重なアナリストです。日本語で回答し、ページを引用してください。</translation>
    </message>
    <message>
        <source>Messages</source>
        <translation>メッセージ</translation>
    </message>
    <message>
        <source>Ask a question, or drop documents here to analyse them.</source>
        <translation>質問するか、ここにドキュメントをドロップして分析します。</translation>
    </message>
    <message>
        <source>Enter sends, Shift+Enter starts a new line. Press F1 for all keyboard shortcuts.</source>
        <translation>Enter で送信、Shift+Enter で改行。F1 ですべてのショートカットを表示します。</translation>
    </message>
    <message>
        <source>Open Models</source>
        <translation>モデルを開く</translation>
    </message>
</context>
<context>
    <name>Composer</name>
    <message>
        <source>Attach documents</source>
        <translation>ドキュメントを添付</translation>
    </message>
    <message>
        <source>Documents (*.pdf *.docx *.txt *.md *.html *.htm *.csv *.json *.py *.cpp *.h *.js *.ts *.java *.go *.rs)</source>
        <translation>ドキュメント (*.pdf *.docx *.txt *.md *.html *.htm *.csv *.json *.py *.cpp *.h *.js *.ts *.java *.go *.rs)</translation>
    </message>
    <message>
        <source>All files (*)</source>
        <translation>すべてのファイル (*)</translation>
    </message>
    <message>
        <source>Message Fathom… (Enter sends, Shift+Enter for a new line)</source>
        <translation>Fathom へのメッセージ…（Enter で送信、Shift+Enter で改行）</translation>
    </message>
    <message>
        <source>Type a message; load a model in Models to send it</source>
        <translation>メッセージを入力してください。送信するには「モデル」でモデルを読み込みます</translation>
    </message>
    <message>
        <source>Message</source>
        <translation>メッセージ</translation>
    </message>
    <message>
        <source>Enter sends, Shift+Enter starts a new line</source>
        <translation>Enter で送信、Shift+Enter で改行</translation>
    </message>
    <message>
        <source>Attach</source>
        <translation>添付</translation>
    </message>
    <message>
        <source>Attach documents (Ctrl+O), or drop files on the window</source>
        <translation>ドキュメントを添付（Ctrl+O）、またはファイルをウィンドウにドロップ</translation>
    </message>
    <message>
        <source>Reasoning:</source>
        <translation>推論：</translation>
    </message>
    <message>
        <source>Reasoning mode</source>
        <translation>推論モード</translation>
    </message>
    <message>
        <source>Off</source>
        <translation>オフ</translation>
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
        <translation>送信</translation>
    </message>
    <message>
        <source>Send message</source>
        <translation>メッセージを送信</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <source>Stop generating</source>
        <translation>生成を停止</translation>
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
        <translation>使用中のコンテキスト：%2 トークン中 %1</translation>
    </message>
    <message>
        <source>Context ≈%1 / %2 tokens</source>
        <translation>コンテキスト ≈%1 / %2 トークン</translation>
    </message>
    <message>
        <source>System prompt: %1 tokens
Documents: %2 tokens
Conversation: %3 tokens
Limit: %4 tokens</source>
        <translation>システムプロンプト：%1 トークン
ドキュメント：%2 トークン
会話：%3 トークン
上限：%4 トークン</translation>
    </message>
</context>
<context>
    <name>ConversationDelegate</name>
    <message>
        <source>Pinned conversation</source>
        <translation>ピン留めされた会話</translation>
    </message>
    <message>
        <source>Conversation</source>
        <translation>会話</translation>
    </message>
    <message>
        <source>Conversation title</source>
        <translation>会話のタイトル</translation>
    </message>
    <message>
        <source>Conversation actions</source>
        <translation>会話の操作</translation>
    </message>
    <message>
        <source>Rename</source>
        <translation>名前を変更</translation>
    </message>
    <message>
        <source>Unpin</source>
        <translation>ピン留めを解除</translation>
    </message>
    <message>
        <source>Pin</source>
        <translation>ピン留め</translation>
    </message>
    <message>
        <source>Unarchive</source>
        <translation>アーカイブを解除</translation>
    </message>
    <message>
        <source>Archive</source>
        <translation>アーカイブ</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>削除</translation>
    </message>
</context>
<context>
    <name>DemoModel</name>
    <message>
        <source>Cannot create the demo model folder %1.</source>
        <translation>デモモデルのフォルダー %1 を作成できません。</translation>
    </message>
    <message>
        <source>Cannot write %1: %2</source>
        <translation>%1 に書き込めません：%2</translation>
    </message>
    <message>
        <source>Cannot write the demo model in %1: %2</source>
        <translation>%1 にデモモデルを書き込めません：%2</translation>
    </message>
</context>
<context>
    <name>DocumentViewer</name>
    <message>
        <source>Back to the document list</source>
        <translation>ドキュメント一覧に戻る</translation>
    </message>
    <message>
        <source>Previous page</source>
        <translation>前のページ</translation>
    </message>
    <message>
        <source>Page %1 of %2</source>
        <translation>%2 ページ中 %1 ページ</translation>
    </message>
    <message>
        <source>Next page</source>
        <translation>次のページ</translation>
    </message>
    <message>
        <source>Text of page %1</source>
        <translation>%1 ページのテキスト</translation>
    </message>
</context>
<context>
    <name>DocumentsPanel</name>
    <message>
        <source>Documents</source>
        <translation>ドキュメント</translation>
    </message>
    <message>
        <source>Documents of this conversation</source>
        <translation>この会話のドキュメント</translation>
    </message>
    <message>
        <source>Remove %1 from this conversation</source>
        <translation>この会話から %1 を削除</translation>
    </message>
    <message>
        <source>Reading %1</source>
        <translation>%1 を読み込み中</translation>
    </message>
    <message>
        <source>Could not be read: %1</source>
        <translation>読み込めませんでした：%1</translation>
    </message>
    <message>
        <source>Reading…</source>
        <translation>読み込み中…</translation>
    </message>
    <message numerus="yes">
        <source>%n page(s)</source>
        <translation>
            <numerusform>%n ページ</numerusform></translation>
    </message>
    <message>
        <source>≈%1 tokens</source>
        <translation>≈%1 トークン</translation>
    </message>
    <message>
        <source>%1 tokens</source>
        <translation>%1 トークン</translation>
    </message>
    <message>
        <source>some pages have no text (scanned, no OCR)</source>
        <translation>一部のページにテキストがありません（スキャン、OCR なし）</translation>
    </message>
    <message>
        <source>No documents. Attach files or drop them on the window: PDF, DOCX, text, Markdown, HTML and source code.</source>
        <translation>ドキュメントはありません。ファイルを添付するか、ウィンドウにドロップしてください：PDF、DOCX、テキスト、Markdown、HTML、ソースコード。</translation>
    </message>
</context>
<context>
    <name>HelpSheet</name>
    <message>
        <source>Keyboard shortcuts</source>
        <translation>キーボードショートカット</translation>
    </message>
    <message>
        <source>New chat</source>
        <translation>新しいチャット</translation>
    </message>
    <message>
        <source>Search conversations</source>
        <translation>会話を検索</translation>
    </message>
    <message>
        <source>Send message</source>
        <translation>メッセージを送信</translation>
    </message>
    <message>
        <source>Enter</source>
        <translation>Enter</translation>
    </message>
    <message>
        <source>New line in the message</source>
        <translation>メッセージ内で改行</translation>
    </message>
    <message>
        <source>Shift+Enter</source>
        <translation>Shift+Enter</translation>
    </message>
    <message>
        <source>Stop generating</source>
        <translation>生成を停止</translation>
    </message>
    <message>
        <source>Esc</source>
        <translation>Esc</translation>
    </message>
    <message>
        <source>Regenerate the last answer</source>
        <translation>最後の回答を再生成</translation>
    </message>
    <message>
        <source>Focus the message box</source>
        <translation>メッセージ欄にフォーカス</translation>
    </message>
    <message>
        <source>Attach documents</source>
        <translation>ドキュメントを添付</translation>
    </message>
    <message>
        <source>Show or hide documents</source>
        <translation>ドキュメントの表示／非表示</translation>
    </message>
    <message>
        <source>Models and backends</source>
        <translation>モデルとバックエンド</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>設定</translation>
    </message>
    <message>
        <source>Rename the selected conversation</source>
        <translation>選択した会話の名前を変更</translation>
    </message>
    <message>
        <source>Delete the selected conversation</source>
        <translation>選択した会話を削除</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>削除</translation>
    </message>
    <message>
        <source>This help</source>
        <translation>このヘルプ</translation>
    </message>
</context>
<context>
    <name>Main</name>
    <message>
        <source>Fathom — demo model (random weights)</source>
        <translation>Fathom — デモモデル（ランダムな重み）</translation>
    </message>
    <message>
        <source>Fathom</source>
        <translation>Fathom</translation>
    </message>
    <message>
        <source>Drop files to attach them to this conversation</source>
        <translation>ファイルをドロップしてこの会話に添付</translation>
    </message>
</context>
<context>
    <name>MarkdownView</name>
    <message>
        <source>code</source>
        <translation>コード</translation>
    </message>
    <message>
        <source>Copied</source>
        <translation>コピーしました</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>コピー</translation>
    </message>
    <message>
        <source>Copy code</source>
        <translation>コードをコピー</translation>
    </message>
    <message>
        <source>Code block</source>
        <translation>コードブロック</translation>
    </message>
</context>
<context>
    <name>MessageDelegate</name>
    <message>
        <source>Your message</source>
        <translation>あなたのメッセージ</translation>
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
        <translation>%1 秒間思考</translation>
    </message>
    <message>
        <source>Reasoning</source>
        <translation>推論</translation>
    </message>
    <message>
        <source>Hide reasoning</source>
        <translation>推論を隠す</translation>
    </message>
    <message>
        <source>Show reasoning</source>
        <translation>推論を表示</translation>
    </message>
    <message>
        <source>Edit message</source>
        <translation>メッセージを編集</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>キャンセル</translation>
    </message>
    <message>
        <source>Cancel editing</source>
        <translation>編集をキャンセル</translation>
    </message>
    <message>
        <source>Save and send</source>
        <translation>保存して送信</translation>
    </message>
    <message>
        <source>Save the edit and send it as a new branch</source>
        <translation>編集を保存し、新しい分岐として送信</translation>
    </message>
    <message>
        <source>This answer was cut off when Fathom stopped. The text above is what was saved; regenerate to get a complete answer.</source>
        <translation>Fathom の停止によりこの回答は途中で切れました。上のテキストは保存された部分です。完全な回答を得るには再生成してください。</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>コピー</translation>
    </message>
    <message>
        <source>Copy message</source>
        <translation>メッセージをコピー</translation>
    </message>
    <message>
        <source>Edit</source>
        <translation>編集</translation>
    </message>
    <message>
        <source>Regenerate</source>
        <translation>再生成</translation>
    </message>
    <message>
        <source>Regenerate answer</source>
        <translation>回答を再生成</translation>
    </message>
    <message>
        <source>Previous branch</source>
        <translation>前の分岐</translation>
    </message>
    <message>
        <source>%1 / %2</source>
        <translation>%1 / %2</translation>
    </message>
    <message>
        <source>Branch %1 of %2</source>
        <translation>%2 個中 %1 番目の分岐</translation>
    </message>
    <message>
        <source>Next branch</source>
        <translation>次の分岐</translation>
    </message>
    <message>
        <source>%1 tokens</source>
        <translation>%1 トークン</translation>
    </message>
    <message>
        <source>first token %1 s</source>
        <translation>最初のトークン %1 秒</translation>
    </message>
    <message>
        <source>%1 tokens/s</source>
        <translation>%1 トークン/秒</translation>
    </message>
    <message>
        <source>stopped at the token limit</source>
        <translation>トークン上限で停止</translation>
    </message>
    <message>
        <source>stopped</source>
        <translation>停止済み</translation>
    </message>
</context>
<context>
    <name>ModelsDialog</name>
    <message>
        <source>Models and backends</source>
        <translation>モデルとバックエンド</translation>
    </message>
    <message>
        <source>Choose a model folder (config.json, tokenizer.json, *.safetensors)</source>
        <translation>モデルフォルダーを選択（config.json、tokenizer.json、*.safetensors）</translation>
    </message>
    <message>
        <source>Loaded: %1 on %2</source>
        <translation>読み込み済み：%1（%2 上）</translation>
    </message>
    <message>
        <source>Loading %1…</source>
        <translation>%1 を読み込み中…</translation>
    </message>
    <message>
        <source>Creating the demo model…</source>
        <translation>デモモデルを作成中…</translation>
    </message>
    <message>
        <source>Loading failed</source>
        <translation>読み込みに失敗しました</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>モデルが読み込まれていません</translation>
    </message>
    <message>
        <source>Loading progress</source>
        <translation>読み込みの進行状況</translation>
    </message>
    <message>
        <source>Cancel loading</source>
        <translation>読み込みをキャンセル</translation>
    </message>
    <message>
        <source>Unload</source>
        <translation>アンロード</translation>
    </message>
    <message>
        <source>Unload the model</source>
        <translation>モデルをアンロード</translation>
    </message>
    <message>
        <source>Models</source>
        <translation>モデル</translation>
    </message>
    <message>
        <source>A tiny model with the DeepSeek V4 architecture and RANDOM weights, created on this computer. Its answers are noise; it lets you try every screen without the real weights.</source>
        <translation>DeepSeek V4 アーキテクチャとランダムな重みを持つ小さなモデルで、このコンピューター上で作成されます。回答は無意味ですが、本物の重みなしですべての画面を試せます。</translation>
    </message>
    <message>
        <source>Create and load</source>
        <translation>作成して読み込む</translation>
    </message>
    <message>
        <source>Load</source>
        <translation>読み込む</translation>
    </message>
    <message>
        <source>Load %1</source>
        <translation>%1 を読み込む</translation>
    </message>
    <message>
        <source>Remove %1 from the list</source>
        <translation>%1 を一覧から削除</translation>
    </message>
    <message>
        <source>Add model folder…</source>
        <translation>モデルフォルダーを追加…</translation>
    </message>
    <message>
        <source>Add a model folder</source>
        <translation>モデルフォルダーを追加</translation>
    </message>
    <message>
        <source>or type a folder path</source>
        <translation>またはフォルダーのパスを入力</translation>
    </message>
    <message>
        <source>Model folder path</source>
        <translation>モデルフォルダーのパス</translation>
    </message>
    <message>
        <source>Remote server (vLLM, SGLang, DeepSeek API)</source>
        <translation>リモートサーバー（vLLM、SGLang、DeepSeek API）</translation>
    </message>
    <message>
        <source>Address</source>
        <translation>アドレス</translation>
    </message>
    <message>
        <source>Server address</source>
        <translation>サーバーアドレス</translation>
    </message>
    <message>
        <source>Model id</source>
        <translation>モデル ID</translation>
    </message>
    <message>
        <source>empty: the server's first model</source>
        <translation>空欄：サーバーの最初のモデル</translation>
    </message>
    <message>
        <source>API key</source>
        <translation>API キー</translation>
    </message>
    <message>
        <source>optional</source>
        <translation>任意</translation>
    </message>
    <message>
        <source>Connect</source>
        <translation>接続</translation>
    </message>
    <message>
        <source>Connect to the server</source>
        <translation>サーバーに接続</translation>
    </message>
    <message>
        <source>Backends</source>
        <translation>バックエンド</translation>
    </message>
    <message>
        <source>Unavailable: %1</source>
        <translation>利用不可：%1</translation>
    </message>
</context>
<context>
    <name>Notifications</name>
    <message>
        <source>Dismiss</source>
        <translation>閉じる</translation>
    </message>
    <message>
        <source>Dismiss message</source>
        <translation>メッセージを閉じる</translation>
    </message>
</context>
<context>
    <name>PdfPageProvider</name>
    <message>
        <source>Cannot open the PDF file %1.</source>
        <translation>PDF ファイル %1 を開けません。</translation>
    </message>
    <message>
        <source>%1 has no page %2.</source>
        <translation>%1 に %2 ページはありません。</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Remote servers</source>
        <translation>リモートサーバー</translation>
    </message>
    <message>
        <source>key stored</source>
        <translation>キー保存済み</translation>
    </message>
    <message>
        <source>Connect</source>
        <translation>接続</translation>
    </message>
    <message>
        <source>Use remote server %1</source>
        <translation>リモートサーバー %1 を使用</translation>
    </message>
    <message>
        <source>Remove remote server %1</source>
        <translation>リモートサーバー %1 を削除</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名前</translation>
    </message>
    <message>
        <source>Office vLLM</source>
        <translation>オフィスの vLLM</translation>
    </message>
    <message>
        <source>Remote server name</source>
        <translation>リモートサーバーの名前</translation>
    </message>
    <message>
        <source>Address</source>
        <translation>アドレス</translation>
    </message>
    <message>
        <source>Remote server address</source>
        <translation>リモートサーバーのアドレス</translation>
    </message>
    <message>
        <source>Model id</source>
        <translation>モデル ID</translation>
    </message>
    <message>
        <source>empty: the server&apos;s first model</source>
        <translation>空欄：サーバーの最初のモデル</translation>
    </message>
    <message>
        <source>Remote model id</source>
        <translation>リモートモデルの ID</translation>
    </message>
    <message>
        <source>CA bundle</source>
        <translation>CA バンドル</translation>
    </message>
    <message>
        <source>optional PEM file for on-premises certificates</source>
        <translation>社内証明書用の PEM ファイル（任意）</translation>
    </message>
    <message>
        <source>CA bundle file</source>
        <translation>CA バンドルファイル</translation>
    </message>
    <message>
        <source>Proxy</source>
        <translation>プロキシ</translation>
    </message>
    <message>
        <source>empty: the system&apos;s proxy settings</source>
        <translation>空欄：システムのプロキシ設定</translation>
    </message>
    <message>
        <source>API key</source>
        <translation>API キー</translation>
    </message>
    <message>
        <source>optional</source>
        <translation>任意</translation>
    </message>
    <message>
        <source>Remote server API key</source>
        <translation>リモートサーバーの API キー</translation>
    </message>
    <message>
        <source>Add remote server</source>
        <translation>リモートサーバーを追加</translation>
    </message>
    <message>
        <source>API server</source>
        <translation>API サーバー</translation>
    </message>
    <message>
        <source>Serve the loaded model</source>
        <translation>読み込んだモデルを提供</translation>
    </message>
    <message>
        <source>Serve the loaded model over the OpenAI-compatible API</source>
        <translation>読み込んだモデルを OpenAI 互換 API で提供</translation>
    </message>
    <message>
        <source>API server address</source>
        <translation>API サーバーのアドレス</translation>
    </message>
    <message>
        <source>Port</source>
        <translation>ポート</translation>
    </message>
    <message>
        <source>API server port</source>
        <translation>API サーバーのポート</translation>
    </message>
    <message>
        <source>Concurrent requests</source>
        <translation>同時リクエスト数</translation>
    </message>
    <message>
        <source>API server concurrent requests</source>
        <translation>API サーバーの同時リクエスト数</translation>
    </message>
    <message>
        <source>a key is stored</source>
        <translation>キーが保存されています</translation>
    </message>
    <message>
        <source>required for addresses other than 127.0.0.1</source>
        <translation>127.0.0.1 以外のアドレスでは必須</translation>
    </message>
    <message>
        <source>API server key</source>
        <translation>API サーバーのキー</translation>
    </message>
    <message>
        <source>Set</source>
        <translation>設定</translation>
    </message>
    <message>
        <source>Clear</source>
        <translation>消去</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>設定</translation>
    </message>
    <message>
        <source>Choose the data folder</source>
        <translation>データフォルダーを選択</translation>
    </message>
    <message>
        <source>Add a model folder</source>
        <translation>モデルフォルダーを追加</translation>
    </message>
    <message>
        <source>Appearance</source>
        <translation>外観</translation>
    </message>
    <message>
        <source>Theme</source>
        <translation>テーマ</translation>
    </message>
    <message>
        <source>System</source>
        <translation>システム</translation>
    </message>
    <message>
        <source>Light</source>
        <translation>ライト</translation>
    </message>
    <message>
        <source>Dark</source>
        <translation>ダーク</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>言語</translation>
    </message>
    <message>
        <source>Font size</source>
        <translation>フォントサイズ</translation>
    </message>
    <message>
        <source>Generation</source>
        <translation>生成</translation>
    </message>
    <message>
        <source>Context length (tokens)</source>
        <translation>コンテキスト長（トークン）</translation>
    </message>
    <message>
        <source>Context length</source>
        <translation>コンテキスト長</translation>
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
        <translation>Top-k（0 = オフ）</translation>
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
        <translation>回答の最大トークン数</translation>
    </message>
    <message>
        <source>Hardware</source>
        <translation>ハードウェア</translation>
    </message>
    <message>
        <source>GPUs to use</source>
        <translation>使用する GPU</translation>
    </message>
    <message>
        <source>e.g. 0,1 (empty: the CPU)</source>
        <translation>例：0,1（空欄：CPU）</translation>
    </message>
    <message>
        <source>Storage</source>
        <translation>ストレージ</translation>
    </message>
    <message>
        <source>Data folder</source>
        <translation>データフォルダー</translation>
    </message>
    <message>
        <source>Change…</source>
        <translation>変更…</translation>
    </message>
    <message>
        <source>Change the data folder</source>
        <translation>データフォルダーを変更</translation>
    </message>
    <message>
        <source>The new data folder is used after Fathom restarts.</source>
        <translation>新しいデータフォルダーは Fathom の再起動後に使用されます。</translation>
    </message>
    <message>
        <source>Model folders</source>
        <translation>モデルフォルダー</translation>
    </message>
    <message>
        <source>Remove model folder %1</source>
        <translation>モデルフォルダー %1 を削除</translation>
    </message>
    <message>
        <source>Add model folder…</source>
        <translation>モデルフォルダーを追加…</translation>
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
        <translation>新しいチャット</translation>
    </message>
    <message>
        <source>Starts a new conversation (Ctrl+N)</source>
        <translation>新しい会話を開始（Ctrl+N）</translation>
    </message>
    <message>
        <source>New chat (Ctrl+N)</source>
        <translation>新しいチャット（Ctrl+N）</translation>
    </message>
    <message>
        <source>Search conversations and documents</source>
        <translation>会話とドキュメントを検索</translation>
    </message>
    <message>
        <source>Search conversations</source>
        <translation>会話を検索</translation>
    </message>
    <message>
        <source>Conversations</source>
        <translation>会話</translation>
    </message>
    <message>
        <source>No archived conversations.</source>
        <translation>アーカイブされた会話はありません。</translation>
    </message>
    <message>
        <source>No conversations yet. Type a message to start one.</source>
        <translation>まだ会話はありません。メッセージを入力して始めましょう。</translation>
    </message>
    <message>
        <source>Search results</source>
        <translation>検索結果</translation>
    </message>
    <message>
        <source>%1, page %2</source>
        <translation>%1、%2 ページ</translation>
    </message>
    <message>
        <source>Nothing found.</source>
        <translation>見つかりませんでした。</translation>
    </message>
    <message>
        <source>Undo</source>
        <translation>元に戻す</translation>
    </message>
    <message>
        <source>Undo delete</source>
        <translation>削除を元に戻す</translation>
    </message>
    <message>
        <source>Models and backends</source>
        <translation>モデルとバックエンド</translation>
    </message>
    <message>
        <source>Loading %1…</source>
        <translation>%1 を読み込み中…</translation>
    </message>
    <message>
        <source>Model failed to load</source>
        <translation>モデルの読み込みに失敗しました</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>モデルが読み込まれていません</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>設定</translation>
    </message>
    <message>
        <source>Settings (Ctrl+,)</source>
        <translation>設定（Ctrl+,）</translation>
    </message>
    <message>
        <source>Active</source>
        <translation>アクティブ</translation>
    </message>
    <message>
        <source>Archived</source>
        <translation>アーカイブ済み</translation>
    </message>
    <message>
        <source>Show archived conversations</source>
        <translation>アーカイブされた会話を表示</translation>
    </message>
    <message>
        <source>Keyboard shortcuts</source>
        <translation>キーボードショートカット</translation>
    </message>
    <message>
        <source>Keyboard shortcuts (F1)</source>
        <translation>キーボードショートカット（F1）</translation>
    </message>
</context>
<context>
    <name>fathom::EngineHost</name>
    <message>
        <source>Loading was cancelled.</source>
        <translation>読み込みはキャンセルされました。</translation>
    </message>
    <message>
        <source>No model is loaded. Load one in Models before sending.</source>
        <translation>モデルが読み込まれていません。送信する前に「モデル」で読み込んでください。</translation>
    </message>
    <message>
        <source>The engine stopped without finishing the answer.</source>
        <translation>エンジンが回答を完了せずに停止しました。</translation>
    </message>
</context>
<context>
    <name>fathom::ui::AppController</name>
    <message>
        <source>The disk is full: Fathom cannot save. Free some space; nothing typed or generated has been discarded. (%1)</source>
        <translation>ディスクがいっぱいのため Fathom は保存できません。空き容量を確保してください。入力・生成された内容は破棄されていません。（%1）</translation>
    </message>
    <message>
        <source>Saving failed: %1</source>
        <translation>保存に失敗しました：%1</translation>
    </message>
    <message>
        <source>The database %1 could not be opened: %2</source>
        <translation>データベース %1 を開けませんでした：%2</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ChatController</name>
    <message>
        <source>The model ran out of memory while answering. Remove documents from the conversation, lower the context length in Settings, or use more GPUs. (%1)</source>
        <translation>回答中にモデルのメモリが不足しました。会話からドキュメントを削除するか、設定でコンテキスト長を下げるか、GPU を増やしてください。（%1）</translation>
    </message>
    <message>
        <source>The disk is full, so the answer could not be saved. Free some space; the text generated so far is kept. (%1)</source>
        <translation>ディスクがいっぱいのため回答を保存できませんでした。空き容量を確保してください。ここまでに生成されたテキストは保持されます。（%1）</translation>
    </message>
    <message>
        <source>The model server could not be reached: %1. Check the server address in Models and try again.</source>
        <translation>モデルサーバーに接続できませんでした：%1。「モデル」でサーバーアドレスを確認して、もう一度お試しください。</translation>
    </message>
    <message>
        <source>The GPU reported an error: %1. Reload the model in Models.</source>
        <translation>GPU がエラーを報告しました：%1。「モデル」でモデルを再読み込みしてください。</translation>
    </message>
    <message>
        <source>The answer failed: %1</source>
        <translation>回答に失敗しました：%1</translation>
    </message>
    <message>
        <source>The system prompt could not be saved: %1</source>
        <translation>システムプロンプトを保存できませんでした：%1</translation>
    </message>
    <message>
        <source>The conversation could not be opened: %1</source>
        <translation>会話を開けませんでした：%1</translation>
    </message>
    <message>
        <source>The messages could not be loaded: %1</source>
        <translation>メッセージを読み込めませんでした：%1</translation>
    </message>
    <message>
        <source>The conversation could not be created: %1</source>
        <translation>会話を作成できませんでした：%1</translation>
    </message>
    <message>
        <source>The model is still loading. Your message is kept; send it when loading has finished.</source>
        <translation>モデルはまだ読み込み中です。メッセージは保持されています。読み込みが終わったら送信してください。</translation>
    </message>
    <message>
        <source>No model is loaded. Open Models and load one (or the demo model); your message is kept.</source>
        <translation>モデルが読み込まれていません。「モデル」を開いてモデル（またはデモモデル）を読み込んでください。メッセージは保持されています。</translation>
    </message>
    <message>
        <source>Your message could not be saved: %1</source>
        <translation>メッセージを保存できませんでした：%1</translation>
    </message>
    <message>
        <source>The answer could not be started: %1</source>
        <translation>回答を開始できませんでした：%1</translation>
    </message>
    <message>
        <source>The user attached these documents. Cite pages as [document, page N].</source>
        <translation>ユーザーが以下のドキュメントを添付しました。ページは [ドキュメント, N ページ] の形式で引用してください。</translation>
    </message>
    <message>
        <source>The answer could not be saved: %1</source>
        <translation>回答を保存できませんでした：%1</translation>
    </message>
    <message>
        <source>No model is loaded. Open Models and load one to regenerate.</source>
        <translation>モデルが読み込まれていません。再生成するには「モデル」を開いてモデルを読み込んでください。</translation>
    </message>
    <message>
        <source>Could not regenerate: %1</source>
        <translation>再生成できませんでした：%1</translation>
    </message>
    <message>
        <source>No model is loaded. Open Models and load one; your edit is kept.</source>
        <translation>モデルが読み込まれていません。「モデル」を開いて読み込んでください。編集内容は保持されています。</translation>
    </message>
    <message>
        <source>Your edit could not be saved: %1</source>
        <translation>編集内容を保存できませんでした：%1</translation>
    </message>
    <message>
        <source>Could not switch to that branch: %1</source>
        <translation>その分岐に切り替えられませんでした：%1</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ConversationListModel</name>
    <message>
        <source>New conversation</source>
        <translation>新しい会話</translation>
    </message>
    <message>
        <source>Pinned</source>
        <translation>ピン留め</translation>
    </message>
    <message>
        <source>Today</source>
        <translation>今日</translation>
    </message>
    <message>
        <source>Yesterday</source>
        <translation>昨日</translation>
    </message>
    <message>
        <source>Previous 7 days</source>
        <translation>過去 7 日間</translation>
    </message>
    <message>
        <source>Previous 30 days</source>
        <translation>過去 30 日間</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ConversationsController</name>
    <message>
        <source>Deleted “%1”</source>
        <translation>「%1」を削除しました</translation>
    </message>
    <message>
        <source>New conversation</source>
        <translation>新しい会話</translation>
    </message>
    <message>
        <source>The conversations could not be loaded: %1</source>
        <translation>会話を読み込めませんでした：%1</translation>
    </message>
    <message>
        <source>The conversation could not be renamed: %1</source>
        <translation>会話の名前を変更できませんでした：%1</translation>
    </message>
    <message>
        <source>The conversation could not be deleted: %1</source>
        <translation>会話を削除できませんでした：%1</translation>
    </message>
    <message>
        <source>Could not pin the conversation: %1</source>
        <translation>会話をピン留めできませんでした：%1</translation>
    </message>
    <message>
        <source>Could not archive the conversation: %1</source>
        <translation>会話をアーカイブできませんでした：%1</translation>
    </message>
</context>
<context>
    <name>fathom::ui::DocumentsController</name>
    <message>
        <source>The documents could not be loaded: %1</source>
        <translation>ドキュメントを読み込めませんでした：%1</translation>
    </message>
    <message>
        <source>%1 is not a file that can be attached.</source>
        <translation>%1 は添付できるファイルではありません。</translation>
    </message>
    <message>
        <source>%1 could not be read: %2</source>
        <translation>%1 を読み込めませんでした：%2</translation>
    </message>
    <message>
        <source>The document could not be saved: %1</source>
        <translation>ドキュメントを保存できませんでした：%1</translation>
    </message>
    <message>
        <source>The document could not be removed: %1</source>
        <translation>ドキュメントを削除できませんでした：%1</translation>
    </message>
    <message>
        <source>The document could not be opened: %1</source>
        <translation>ドキュメントを開けませんでした：%1</translation>
    </message>
</context>
<context>
    <name>fathom::ui::ModelsController</name>
    <message>
        <source>Looking for NVIDIA GPUs…</source>
        <translation>NVIDIA GPU を検索中…</translation>
    </message>
    <message>
        <source>GPU %1: %2, %3 GiB, compute capability %4.%5</source>
        <translation>GPU %1: %2、%3 GiB、コンピュート能力 %4.%5</translation>
    </message>
    <message>
        <source>not usable: %1</source>
        <translation>使用不可：%1</translation>
    </message>
    <message>
        <source>unsupported compute capability</source>
        <translation>サポートされていないコンピュート能力</translation>
    </message>
    <message>
        <source>%1 (driver %2, CUDA runtime %3)</source>
        <translation>%1（ドライバー %2、CUDA ランタイム %3）</translation>
    </message>
    <message>
        <source>Could not load the model %1: %2</source>
        <translation>モデル %1 を読み込めませんでした：%2</translation>
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
        <translation>リモートサーバー</translation>
    </message>
    <message>
        <source>Demo model (random weights)</source>
        <translation>デモモデル（ランダムな重み）</translation>
    </message>
    <message>
        <source>The folder %1 does not exist.</source>
        <translation>フォルダー %1 は存在しません。</translation>
    </message>
    <message>
        <source>%1 has no config.json: this is not a model folder in the Hugging Face layout.</source>
        <translation>%1 に config.json がありません。Hugging Face 形式のモデルフォルダーではありません。</translation>
    </message>
    <message>
        <source>The model configuration %1 is not usable: %2</source>
        <translation>モデル設定 %1 は使用できません：%2</translation>
    </message>
    <message>
        <source>%1 has no tokenizer.json; copy it from the model's download.</source>
        <translation>%1 に tokenizer.json がありません。モデルのダウンロードからコピーしてください。</translation>
    </message>
    <message>
        <source>%1 has no weights (*.safetensors files).</source>
        <translation>%1 に重み（*.safetensors ファイル）がありません。</translation>
    </message>
    <message>
        <source>Creating the demo model</source>
        <translation>デモモデルを作成中</translation>
    </message>
    <message>
        <source>Could not create the demo model: %1</source>
        <translation>デモモデルを作成できませんでした：%1</translation>
    </message>
    <message>
        <source>Starting</source>
        <translation>開始中</translation>
    </message>
</context>
<context>
    <name>fathom::ui::SettingsController</name>
    <message>
        <source>&quot;%1&quot; is not a server address (for example https://api.deepseek.com or http://gpu01:8000/v1).</source>
        <translation>「%1」はサーバーのアドレスではありません（例：https://api.deepseek.com、http://gpu01:8000/v1）。</translation>
    </message>
    <message>
        <source>The API key was not saved: %1</source>
        <translation>API キーを保存できませんでした：%1</translation>
    </message>
    <message>
        <source>The API key of %1 is missing from the keychain; enter it again in Settings.</source>
        <translation>%1 の API キーがキーチェーンにありません。設定でもう一度入力してください。</translation>
    </message>
    <message>
        <source>No remote server with id %1.</source>
        <translation>ID %1 のリモートサーバーはありません。</translation>
    </message>
    <message>
        <source>Serving on %1</source>
        <translation>%1 で提供中</translation>
    </message>
    <message>
        <source>The API server did not start: %1</source>
        <translation>API サーバーを起動できませんでした：%1</translation>
    </message>
    <message>
        <source>System language</source>
        <translation>システムの言語</translation>
    </message>
</context>
<context>
    <name>fathom::ui::BackendListModel</name>
    <message>
        <source>%1, model %2</source>
        <translation>%1、モデル %2</translation>
    </message>
</context>
</TS>