// The portal's only script besides htmx: show flash messages that arrive with fragments.
document.addEventListener("toast", function (event) {
  var box = document.getElementById("toasts");  // a live region present from the start
  (event.detail.messages || []).forEach(function (m) {
    var p = document.createElement("p");
    p.className = "flash flash-" + m.level;
    p.textContent = m.text;
    box.appendChild(p);
    setTimeout(function () { p.remove(); }, 6000);
  });
});
