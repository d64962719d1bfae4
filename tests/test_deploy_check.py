"""`manage.py check --deploy` in the studio shape: clean once the TLS variables are set (README: "Deploying behind
TLS"); without them Django warns about HSTS, the HTTPS redirect and the cookies."""

import secrets

from tests.settings_process import manage

STUDIO = {"TOWER_SECRET_KEY": secrets.token_urlsafe(50), "TOWER_DEBUG": "0",
          "TOWER_ALLOWED_HOSTS": "tower.studio.example", "TOWER_CSRF_TRUSTED_ORIGINS": "https://tower.studio.example"}
TLS = {"TOWER_SECURE_SSL_REDIRECT": "1", "TOWER_SECURE_HSTS_SECONDS": "31536000",
       "TOWER_SECURE_HSTS_INCLUDE_SUBDOMAINS": "1", "TOWER_SECURE_HSTS_PRELOAD": "1", "TOWER_SECURE_COOKIES": "1",
       "TOWER_SECURE_PROXY_SSL_HEADER": "1"}


def test_check_deploy_is_clean_with_the_tls_variables(tmp_path):
    result = manage(tmp_path / "data", "check", "--deploy", "--fail-level", "WARNING", **STUDIO, **TLS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_without_them(tmp_path):
    result = manage(tmp_path / "data", "check", "--deploy", "--fail-level", "WARNING", **STUDIO)
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr, result.stderr
