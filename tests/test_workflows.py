"""The GitHub Actions workflow cannot run here, so it is linted with actionlint (pinned in requirements.txt),
and what the book's publication relies on is checked against _config.yml."""
import subprocess
from pathlib import Path

import pytest
import yaml

from course_lib import colab

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"


@pytest.fixture
def lint(venv_tool):
    """``lint(*files, cwd=ROOT)``: actionlint's completed process on the workflow files."""
    exe = venv_tool("actionlint")

    def run(*files, cwd=ROOT):
        return subprocess.run([exe, "-no-color", "-shellcheck=", "-pyflakes=", *map(str, files)], cwd=cwd,
                              capture_output=True, text=True)
    return run


def test_every_workflow_passes_actionlint(lint):
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert files, "no workflow in .github/workflows"
    proc = lint(*files)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("breakage", [
    ("runs-on: ubuntu-latest", "runs_on: ubuntu-latest"),                           # a misspelt key
    ("steps.deployment.outputs.page_url", "steps.deploy.outputs.page_url"),         # an expression to nowhere
    ("needs: book", "needs: publish"),                                              # a job that does not exist
])
def test_actionlint_fails_a_broken_copy(tmp_path, breakage, lint):
    old, new = breakage
    text = CI.read_text()
    assert old in text
    broken = tmp_path / ".github" / "workflows" / "ci.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(text.replace(old, new))
    assert lint(broken, cwd=tmp_path).returncode == 1


def _ci():
    return yaml.safe_load(CI.read_text())


def test_one_job_runs_make_test_on_every_push_and_pull_request():
    wf = _ci()
    on = wf[True] if True in wf else wf["on"]          # YAML 1.1 reads the bare key `on` as True
    assert "push" in on and "pull_request" in on
    runs = [s.get("run", "") for s in wf["jobs"]["test"]["steps"]]
    assert any(r.startswith("make test") for r in runs), runs


def test_the_book_is_deployed_from_the_configured_branch_after_the_tests():
    _, branch = colab.repository(ROOT / "_config.yml")
    jobs = _ci()["jobs"]
    book, deploy = jobs["book"], jobs["deploy"]
    assert book["needs"] == "test" and deploy["needs"] == "book"
    assert f"github.ref == 'refs/heads/{branch}'" in book["if"] and "github.event_name == 'push'" in book["if"]
    steps = {s.get("uses", "").split("@")[0]: s for s in book["steps"]}
    assert any(s.get("run", "").startswith("make book") for s in book["steps"])
    assert steps["actions/upload-pages-artifact"]["with"]["path"] == "_build/html"
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
