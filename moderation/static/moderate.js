// Keyboard shortcuts for the moderator queue: j/k move, a/s/t decide, x selects, ? shows help.
// Loaded as a file (the Content-Security-Policy forbids inline scripts); the page works without it.
(function () {
  "use strict";

  var items = Array.prototype.slice.call(document.querySelectorAll(".queue .item"));
  var pos = document.getElementById("pos");
  var help = document.getElementById("help");
  var selectAll = document.getElementById("select-all");
  var current = -1;
  var submitting = false;

  function focusItem(index) {
    if (!items.length) return;
    current = Math.max(0, Math.min(items.length - 1, index));
    items.forEach(function (el, i) { el.classList.toggle("current", i === current); });
    items[current].focus({ preventScroll: true });
    items[current].scrollIntoView({ block: "nearest" });
    if (pos) pos.value = String(current);
  }

  function press(action) {
    if (current < 0 || submitting) return;
    var button = items[current].querySelector('button[data-action="' + action + '"]');
    if (button) {
      submitting = true;  // one decision per key press, even if the key repeats
      button.click();
    }
  }

  function toggleSelected() {
    if (current < 0) return;
    var box = items[current].querySelector('input[name="select"]');
    if (box) box.checked = !box.checked;
  }

  function isTyping(target) {
    var tag = target && target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    return tag === "INPUT" && target.type !== "checkbox";
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
    switch (event.key) {
      case "j": focusItem(current + 1); break;
      case "k": focusItem(current - 1); break;
      case "a": press("approve"); break;
      case "s": press("spam"); break;
      case "t": press("toxic"); break;
      case "x": toggleSelected(); break;
      case "?": if (help) help.open = !help.open; break;
      case "Escape": if (help) help.open = false; break;
      default: return;
    }
    event.preventDefault();
  });

  items.forEach(function (el, i) {
    el.addEventListener("click", function () { focusItem(i); });
  });

  if (selectAll) {
    selectAll.addEventListener("change", function () {
      items.forEach(function (el) {
        var box = el.querySelector('input[name="select"]');
        if (box) box.checked = selectAll.checked;
      });
    });
  }

  var form = document.getElementById("queue-form");
  if (form) {
    form.addEventListener("submit", function () { submitting = true; });
  }

  // After a decision the page comes back at the same position: the next comment is now there.
  var start = parseInt(new URLSearchParams(window.location.search).get("pos") || "0", 10);
  if (items.length) focusItem(isNaN(start) ? 0 : start);
})();
