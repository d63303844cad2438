// Availability SLO for the storefront: multi-window burn-rate alerts
// (PrometheusRule) and a Grafana dashboard (ConfigMap), from the inventory.
// A Jsonnet component: it runs unchanged under Kapitan and kcompile.
local kap = import 'lib/kapitan.libjsonnet';
local inv = kap.inventory();
local p = inv.parameters;
local slo = p.slo;

local errorBudget = 1 - slo.objective;
local errorRatio(window) =
  'sum(rate(http_requests_total{service="%s",code=~"5.."}[%s])) / sum(rate(http_requests_total{service="%s"}[%s]))'
  % [p.webapp.name, window, p.webapp.name, window];

local burnAlert(w) = {
  alert: 'StorefrontErrorBudgetBurn%s' % w.name,
  expr: '(%s) > (%s * %s) and (%s) > (%s * %s)' % [
    errorRatio(w.long), w.factor, errorBudget, errorRatio(w.short), w.factor, errorBudget,
  ],
  labels: { severity: w.severity },
  annotations: {
    summary: 'Storefront burns its %s%% availability error budget %sx too fast' % [slo.objective * 100, w.factor],
  },
};

local dashboard = {
  title: 'Storefront SLO (%s)' % p.target_name,
  uid: kap.sha256('slo-' + p.target_name)[0:12],
  panels: [
    { type: 'stat', title: 'Availability (%s)' % slo.period, targets: [{ expr: '1 - (%s)' % errorRatio(slo.period) }] },
    { type: 'timeseries', title: 'Error ratio', targets: [{ expr: errorRatio('5m') }] },
  ],
};

{
  'prometheusrule-slo': {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: p.webapp.name + '-slo',
      namespace: p.namespace,
      labels: p.common_labels { release: p.monitoring.prometheus_release },
    },
    spec: { groups: [{ name: p.webapp.name + '-slo', rules: [burnAlert(w) for w in slo.windows] }] },
  },
  'dashboard-slo': {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: p.webapp.name + '-slo-dashboard',
      namespace: p.namespace,
      labels: p.common_labels { grafana_dashboard: '1' },
    },
    data: { 'slo.json': std.manifestJsonEx(dashboard, '  ') + '\n' },
  },
}
