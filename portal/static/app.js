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

// A request that got no answer (the link dropped, the server unreachable): say so. htmx 4 fires
// htmx:error for network errors (an HTTP error status fires htmx:response:error instead).
document.addEventListener("htmx:error", function () {
  document.dispatchEvent(new CustomEvent("toast", {detail: {messages: [{level: "error",
    text: "La connexion a été interrompue. Vérifiez le réseau, puis recommencez : une vente n'est jamais enregistrée deux fois."}]}}));
});
