// Console pages: hand the dashboard's series to Chart.js (configuration only; Chart.js draws).
document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("chart-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  if (!data) return;
  const options = { animation: false, responsive: true, plugins: { legend: { display: false } } };
  new Chart(document.getElementById("chart-orders"), {
    type: "bar", data: { labels: data.labels, datasets: [{ label: "Orders", data: data.orders }] }, options,
  });
  new Chart(document.getElementById("chart-revenue"), {
    type: "line", data: { labels: data.labels, datasets: [{ label: "Gross revenue ($)", data: data.revenue, fill: true }] }, options,
  });
  new Chart(document.getElementById("chart-customers"), {
    type: "doughnut",
    data: { labels: ["New", "Returning"], datasets: [{ data: data.customers }] },
    options: { animation: false, responsive: true },
  });
  document.body.dataset.chartsReady = "true";
});
