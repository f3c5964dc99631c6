// clipboard.js — put text on the clipboard from a click, also when the text is still being fetched.

/** The text from a hidden textarea and execCommand: for pages without the Clipboard API (plain http). */
function copyBySelection(text) {
  const buffer = document.createElement("textarea");
  buffer.className = "visually-hidden";
  buffer.setAttribute("readonly", "");
  buffer.value = text;
  document.body.append(buffer);
  buffer.select();
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch {
    copied = false;
  }
  buffer.remove();
  return copied;
}

/**
 * Copy the text `source` resolves to. A ClipboardItem takes the promise at once, inside the click, because
 * Safari refuses a clipboard write that comes after an await; elsewhere writeText, then the selection route.
 * Resolves true when copied, false when the browser would not; rejects when `source` does.
 * @param {Promise<string>} source
 */
export async function copyText(source) {
  if (window.ClipboardItem && navigator.clipboard && navigator.clipboard.write) {
    const blob = source.then((text) => new Blob([text], { type: "text/plain" }));
    try {
      await navigator.clipboard.write([new ClipboardItem({ "text/plain": blob })]);
      return true;
    } catch {
      // Refused (no permission, or promises in ClipboardItem unsupported): try the plainer ways below.
    }
  }
  const text = await source;
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return copyBySelection(text);
  }
}
