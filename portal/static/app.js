// The portal's only script besides htmx: show flash messages that arrive with fragments.
document.addEventListener("toast", function (event) {
  var box = document.getElementById("toasts");
  if (!box) {
    box = document.createElement("div");
    box.id = "toasts";
    box.setAttribute("role", "status");
    box.setAttribute("aria-live", "polite");
    document.body.appendChild(box);
  }
  (event.detail.messages || []).forEach(function (m) {
    var p = document.createElement("p");
    p.className = "flash flash-" + m.level;
    p.textContent = m.text;
    box.appendChild(p);
    setTimeout(function () { p.remove(); }, 6000);
  });
});
