import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from moderation.config import PACKAGE_DIR, ConfigError, Settings


def test_defaults_run_on_one_machine_with_sqlite():
    settings = Settings.load(environ={})
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.max_links == 2 and settings.flood_seconds == 15 and settings.redis_url == ""


def test_a_checkout_keeps_model_and_database_beside_the_code(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = Settings.load(environ={})
    assert Path(settings.model_dir) == PACKAGE_DIR.parent / "model"
    assert Path(settings.instance_dir) == PACKAGE_DIR.parent / "instance"


def test_an_installed_package_uses_the_working_directory(tmp_path):
    """A copy of the package outside a checkout, as `pip install .` leaves it, uses the working directory."""
    site_packages = tmp_path / "site-packages"
    shutil.copytree(PACKAGE_DIR, site_packages / "moderation", ignore=shutil.ignore_patterns("__pycache__"))
    work = tmp_path / "srv"
    work.mkdir()
    probe = (
        "import json, moderation.config as c; s = c.Settings.load(environ={}); "
        "print(json.dumps([c.__file__, s.model_dir, s.instance_dir, s.resolved_database_url]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=work, env={"PYTHONPATH": str(site_packages)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    loaded_from, model_dir, instance_dir, url = json.loads(done.stdout)
    assert Path(loaded_from).is_relative_to(site_packages)
    assert model_dir == str(work / "model") and instance_dir == str(work / "instance")
    assert url == f"sqlite:///{work / 'instance' / 'moderation.sqlite3'}"


def test_environment_then_overrides_win(tmp_path):
    config = tmp_path / "moderation.toml"
    config.write_text('[moderation]\nmax_links = 5\nblocked_terms = ["casino", "loan"]\nspam_reject = 0.8\n')
    environ = {
        "MODERATION_CONFIG": str(config),
        "MODERATION_MAX_LINKS": "3",
        "MODERATION_WATCHED_TERMS": "a, b",
    }
    settings = Settings.load({"spam_reject": 0.95}, environ=environ)
    assert settings.max_links == 3  # environment beats the file
    assert settings.blocked_terms == ("casino", "loan")  # from the file
    assert settings.watched_terms == ("a", "b")
    assert settings.spam_reject == 0.95  # overrides beat everything


@pytest.mark.parametrize(
    "overrides",
    [{"spam_hold": 0.95, "spam_reject": 0.9}, {"max_links": 0}, {"nonsense": 1}, {"max_links": "many"}],
)
def test_bad_settings_are_refused_with_a_message(overrides):
    with pytest.raises(ConfigError):
        Settings.load(overrides, environ={})


def test_public_dict_hides_secrets():
    settings = Settings.load({"webhook_secret": "s3cret"}, environ={})
    assert settings.public_dict()["webhook_secret"] == "***"


def test_public_dict_hides_the_coral_secret_too():
    assert Settings.load({"coral_secret": "c0ral"}, environ={}).public_dict()["coral_secret"] == "***"


def test_the_readme_configuration_table_names_every_setting():
    readme = (PACKAGE_DIR.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    for setting in dataclasses.fields(Settings):
        name = setting.name.upper()
        # A row's second variable may be abbreviated: `MODERATION_SPAM_HOLD` / `_SPAM_REJECT`.
        assert f"`MODERATION_{name}`" in table or f"`_{name}`" in table, name
