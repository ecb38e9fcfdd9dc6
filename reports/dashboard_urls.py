from django.urls import path

from reports import dashboard

app_name = "dashboard"
urlpatterns = [
    path("", dashboard.app_list, name="app-list"),
    path("apps/<uuid:app_id>/", dashboard.app_detail, name="app-detail"),
    path("apps/<uuid:app_id>/panels/<slug:name>", dashboard.app_panel, name="app-panel"),
    path("apps/<uuid:app_id>/live", dashboard.app_live, name="app-live"),
    path("apps/<uuid:app_id>/export.csv", dashboard.app_export, name="app-export"),
    path("apps/<uuid:app_id>/goals", dashboard.app_goals, name="app-goals"),
]
