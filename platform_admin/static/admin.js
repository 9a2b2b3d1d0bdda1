// Progressive enhancement only: every flow works without this file.
(function () {
  // Narrow the city list to the chosen province.
  var data = document.getElementById("city-data");
  var province = document.querySelector("[data-city-target]");
  if (data && province) {
    var cities = JSON.parse(data.textContent);
    var city = document.getElementById(province.getAttribute("data-city-target"));
    var render = function () {
      var keep = city.value;
      var list = cities[province.value] || [];
      city.innerHTML = "";
      var blank = document.createElement("option");
      blank.value = ""; blank.textContent = "—";
      city.appendChild(blank);
      list.forEach(function (pair) {
        var opt = document.createElement("option");
        opt.value = pair[0]; opt.textContent = pair[1];
        if (pair[0] === keep) opt.selected = true;
        city.appendChild(opt);
      });
      if (list.length === 1) city.value = list[0][0];
    };
    province.addEventListener("change", render);
    render();
  }
  // A throttled request shows how long to wait; count it down and free the button at zero.
  var countdown = document.querySelector("[data-countdown]");
  if (countdown) {
    var left = parseInt(countdown.getAttribute("data-countdown"), 10);
    var waiting = document.querySelectorAll("[data-wait]");
    waiting.forEach(function (b) { b.disabled = true; });
    var timer = setInterval(function () {
      left -= 1;
      if (left > 0) { countdown.textContent = left; return; }
      clearInterval(timer);
      var notice = document.getElementById("throttle-notice");
      notice.textContent = notice.getAttribute("data-done");
      notice.className = "alert alert-info";
      waiting.forEach(function (b) { b.disabled = false; });
    }, 1000);
  }
  // Confirm destructive actions.
  document.addEventListener("click", function (ev) {
    var msg = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });
  // Parts of a page that only work with this file (a filter box, a tick-all) stay hidden without it.
  document.querySelectorAll("[data-js-only]").forEach(function (el) { el.hidden = false; });
  // A list of checkboxes narrowed to the labels holding what is typed.
  // Each of these also acts once when this file runs, on what was typed or ticked before it did.
  document.querySelectorAll("[data-filter-list]").forEach(function (box) {
    var narrow = function () {
      var words = box.value.trim().toLowerCase();
      document.querySelectorAll(box.getAttribute("data-filter-list")).forEach(function (label) {
        // a class whose rule outranks .check's display (the hidden attribute would not)
        label.classList.toggle("filtered-out", words !== "" && label.textContent.toLowerCase().indexOf(words) < 0);
      });
    };
    box.addEventListener("input", narrow);
    if (box.value) narrow();
  });
  // How many of a pick list go: the ticked ones, or (none ticked) what the page says then.
  document.querySelectorAll("[data-pick-count]").forEach(function (out) {
    var boxes = document.querySelectorAll(".pick-list input[name=customer_ids]");
    var show = function () {
      var n = 0;
      boxes.forEach(function (b) { if (b.checked) n += 1; });
      out.textContent = n ? out.getAttribute("data-some").replace("{n}", n) : out.getAttribute("data-none");
    };
    document.addEventListener("change", show);
    show();
  });
  // Choosing the owner lists their customers at once (without JavaScript: the button beside it).
  document.querySelectorAll("[data-autopick]").forEach(function (select) {
    var pick = function () {
      var button = select.form && select.form.querySelector("button[name=" + select.getAttribute("data-autopick") + "]");
      if (button) button.click();
    };
    select.addEventListener("change", pick);
    // An owner chosen before this file ran (a quick hand, or the browser restoring the form) lists theirs too.
    var shown = select.selectedOptions[0];
    if (select.value && shown && !shown.defaultSelected) pick();
  });
  // "Confirm all": tick (or untick) every box it names; without JavaScript the form sends the one box instead.
  // With data-check-follow it follows the boxes too: ticked when all are, half-ticked when some are (after one is
  // unticked by hand, or the browser's Back restoring them).
  document.querySelectorAll("[data-check-all]").forEach(function (all) {
    var selector = all.getAttribute("data-check-all");
    var tick = function () {
      document.querySelectorAll(selector).forEach(function (box) { box.checked = all.checked; });
      all.indeterminate = false;
    };
    var follow = function () {
      var boxes = document.querySelectorAll(selector), n = 0;
      boxes.forEach(function (box) { if (box.checked) n += 1; });
      all.checked = boxes.length > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    };
    all.addEventListener("change", tick);
    if (!all.hasAttribute("data-check-follow")) {
      if (all.checked !== all.defaultChecked) tick();
      return;
    }
    document.addEventListener("change", function (ev) { if (ev.target !== all && ev.target.matches(selector)) follow(); });
    follow();
  });
})();
