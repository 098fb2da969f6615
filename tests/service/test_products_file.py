"""INTAKE_PRODUCTS_FILE as an operator meets it: a wrong file stops `intake serve` with the
line named; a right one makes `intake extract` know the institution's names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path


def intake(tmp_path: Path, products: Path, *args: str, stdin: str = ""
           ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env.update(INTAKE_PRODUCTS_FILE=str(products),
               INTAKE_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite'}")
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120)


def test_serve_refuses_a_wrong_products_file_naming_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "products.toml"
    bad.write_text('[[product]]\nname = "微粒贷"\nbusiness = "loan"\n\n[[product]]\n'
                   'name = "朝朝宝"\nbusiness = "savings"\n', encoding="utf-8")
    done = intake(tmp_path, bad, "serve", "--port", "1")
    assert done.returncode == 2
    assert "INTAKE_PRODUCTS_FILE" in done.stderr and "line 7:" in done.stderr
    assert "unknown business line 'savings'" in done.stderr and "Traceback" not in done.stderr
    missing = intake(tmp_path, tmp_path / "nowhere.toml", "serve", "--port", "1")
    assert missing.returncode == 2 and "cannot be read" in missing.stderr


def test_extract_knows_the_institutions_names(tmp_path: Path) -> None:
    example = tmp_path / "products.toml"
    example.write_text(resources.files("workflow").joinpath("data", "products.example.toml")
                       .read_text("utf-8"), encoding="utf-8")
    line = json.dumps({"id": 1, "text": "我的微粒贷被多扣了利息300元，在江汉路网点问也没人管"},
                      ensure_ascii=False)
    done = intake(tmp_path, example, "extract", stdin=line + "\n")
    assert done.returncode == 0, done.stderr
    fields = json.loads(done.stdout)
    assert (fields["business"], fields["branch"]) == ("loan", "江汉路支行")
