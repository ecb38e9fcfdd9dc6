from django.http import JsonResponse
from django.views import defaults

from analytics_project.errors import API_PATH_PREFIXES, error_body, internal_error_response


def not_found(request, exception=None):
    if request.path.startswith(API_PATH_PREFIXES):
        return JsonResponse(error_body("not_found", "No such endpoint or resource."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith(API_PATH_PREFIXES):
        return internal_error_response()
    return defaults.server_error(request)
