// template-form.js — the template form (/templates/new/, /templates/<id>/edit/): "Start from example" puts the
// worked example of the reference panel (#template-example, rendered by the server) into the content field.
const button = document.getElementById("template-use-example");
const example = document.getElementById("template-example");
const content = document.getElementById("id_content");

if (button && example && content) {
  // Shown only now: without this script the button would do nothing.
  button.hidden = false;
  button.addEventListener("click", () => {
    const text = example.textContent;
    // Never throw away someone's own words without asking.
    if (content.value.trim() && content.value !== text && !window.confirm("Replace the content with the example?")) {
      return;
    }
    content.value = text;
    content.dispatchEvent(new Event("input", { bubbles: true }));
    content.focus();
    content.scrollIntoView({ block: "nearest" });
  });
}
