// The chat page's markup (what the scripts find by id), shared by the webview view and the panel benchmark.
export const PAGE_BODY = `<div id="toolbar" role="toolbar" aria-label="Chat">
  <button id="new" title="Start a new chat">New chat</button>
  <button id="history" title="Open an earlier session">History</button>
</div>
<div id="log" role="log" aria-label="Conversation" aria-live="polite"></div>
<div id="composer">
  <textarea id="prompt" rows="3" placeholder="Describe an app or a change — @ adds a file, Enter sends, Shift+Enter adds a line, Ctrl+Shift+Backspace stops, Alt+↑ goes to the cards" aria-label="Prompt" aria-autocomplete="list" aria-controls="mentions"></textarea>
  <ul id="mentions" role="listbox" aria-label="Workspace files" hidden></ul>
  <div id="buttons">
    <button id="send" class="primary" title="Send (Enter)">Send</button>
    <button id="stop" class="primary" title="Stop the reply (Ctrl+Shift+Backspace in the prompt)">Stop</button>
    <span id="usage" aria-live="polite"></span>
  </div>
</div>`;
