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
  // Confirm destructive actions.
  document.addEventListener("click", function (ev) {
    var msg = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });
})();
