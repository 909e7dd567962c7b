// The participation pages: the ballot's running total (what the ticked projects cost against the
// district's budget).  Only a help: the server checks every ballot against the district's rule, and
// the page works without this script.
(function () {
  "use strict";

  function formatter(currency, whole) {
    var language = document.documentElement.lang || "en";
    try {
      return new Intl.NumberFormat(language, {
        style: "currency",
        currency: currency,
        minimumFractionDigits: whole ? 0 : 2,
        maximumFractionDigits: 2
      });
    } catch (problem) {
      return { format: function (amount) { return amount.toFixed(2) + " " + currency; } };
    }
  }

  // Amounts in cents, so that sums of decimal costs stay exact.
  function cents(text) {
    var parts = String(text).split(".");
    var whole = parseInt(parts[0], 10) || 0;
    var fraction = parts.length > 1 ? parseInt((parts[1] + "00").slice(0, 2), 10) : 0;
    return whole * 100 + fraction;
  }

  function wireBallot(form) {
    var currency = form.getAttribute("data-currency");
    var budget = cents(form.getAttribute("data-amount"));
    var total = form.querySelector("[data-total]");
    var count = form.querySelector("[data-count]");
    var bar = form.querySelector("[data-meter]");
    var over = form.querySelector("[data-over]");
    var boxes = form.querySelectorAll("input[type=checkbox][data-cost]");

    function update() {
      var sum = 0, chosen = 0;
      Array.prototype.forEach.call(boxes, function (box) {
        if (box.checked) { sum += cents(box.getAttribute("data-cost")); chosen += 1; }
      });
      total.textContent = formatter(currency, sum % 100 === 0).format(sum / 100);
      var words = form.getAttribute(chosen === 1 ? "data-count-one" : "data-count-other") || "{n}";
      count.textContent = words.replace("{n}", String(chosen));
      bar.value = Math.min(sum, budget) / 100;
      over.hidden = sum <= budget;
    }

    form.addEventListener("change", update);
    update();
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-ballot]"), wireBallot);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
