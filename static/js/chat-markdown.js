// chat-markdown.js — a chat export (GET /api/chatbot/sessions/<id>/export) as Markdown to paste elsewhere:
// the settings first, then each message under its author's heading; the portal's notices become quotes.

const quote = (text) => String(text).split("\n").map((line) => (line ? `> ${line}` : ">")).join("\n");

function author(message) {
  const meta = message.metadata || {};
  if (message.role === "user") return typeof meta.sent_by === "string" && meta.sent_by ? `Staff: ${meta.sent_by}` : "You";
  if (meta.error) return "Error";
  return meta.stopped ? "Assistant (stopped)" : "Assistant";
}

/** @param {{session: object, messages: object[]}} exported */
export function conversationMarkdown(exported) {
  const session = exported.session || {};
  const parts = [`# ${(session.title || "").trim() || "Untitled chat"}`];
  const prompt = String(session.system_prompt || "").trim();
  parts.push(prompt ? `**System prompt:**\n\n${quote(prompt)}` : "**System prompt:** (none)");
  parts.push(`*temperature ${session.temperature} · top_p ${session.top_p} · max_tokens ${session.max_tokens}*`);
  parts.push("---");
  for (const message of exported.messages || []) {
    if (message.role === "notice") parts.push(quote(message.content));
    else parts.push(`### ${author(message)}\n\n${String(message.content || "").trim() || "(empty)"}`);
  }
  return `${parts.join("\n\n")}\n`;
}
