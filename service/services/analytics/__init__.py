"""The portrait analytics as a service (issue 15): stored runs of the domain's analyses (runs.py), their read
views (views.py), the suggested persona (suggest.py), CSV/XLSX tables (exports.py) and the purchase-log import
(imports.py). The analyses themselves are pure code in service/domain/analytics/."""
