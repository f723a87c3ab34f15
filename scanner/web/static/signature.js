(function () {
  "use strict";
  var pad = document.getElementById("signature-pad");
  if (!pad || !pad.getContext || !window.PointerEvent) { return; }
  document.getElementById("signature-area").hidden = false;  // shown only where drawing works
  var ink = pad.getContext("2d"), field = document.getElementById("signature_png"), last = null, drawn = false;
  pad.width = pad.clientWidth; pad.height = pad.clientHeight;  // one canvas pixel per CSS pixel
  ink.lineWidth = 2.5; ink.lineCap = "round"; ink.lineJoin = "round"; ink.strokeStyle = "#111";
  function at(e) { var r = pad.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; }
  pad.addEventListener("pointerdown", function (e) { pad.setPointerCapture(e.pointerId); last = at(e); e.preventDefault(); });
  pad.addEventListener("pointermove", function (e) {
    if (!last) { return; }
    var p = at(e); ink.beginPath(); ink.moveTo(last[0], last[1]); ink.lineTo(p[0], p[1]); ink.stroke(); last = p; drawn = true;
  });
  function lift() { last = null; if (drawn) { field.value = pad.toDataURL("image/png"); } }
  pad.addEventListener("pointerup", lift); pad.addEventListener("pointercancel", lift);
  document.getElementById("signature-clear").addEventListener("click", function () {
    ink.clearRect(0, 0, pad.width, pad.height); drawn = false; field.value = "";
  });
})();
