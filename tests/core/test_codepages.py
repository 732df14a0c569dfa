"""Lists saved by Excel on Windows in the machine's code page: the right letters come in."""

from __future__ import annotations

from pathlib import Path

import pytest

from nurturedesk.core import leads
from nurturedesk.core.db import Workspace
from nurturedesk.core.importer import import_file
from nurturedesk.core.tabular import detect_encoding

WESTERN = [
    "Jürgen Müller;Bäckerei Groß;München",
    "François Lefèvre;Société Générale;Besançon",
    "José Peña;Compañía Española;A Coruña",
    "João Gonçalves;Construções Lda;São Paulo",
    "Niccolò Rossi;Caffè Città;Forlì",
    "Zoë de Vries;Coöperatie;Eindhoven",
    "Søren Kierkegaard;Ærø Færgen;Århus",
    "Björn Ångström;Företag AB;Göteborg",
    "Guðrún Þórðardóttir;Sjávarútvegur;Reykjavík",
    "Laia Puig;Escola Col·legi;Lleida",
    "Renée O'Brien;Café Olé;Zürich",
    "Anaïs Noël;Crème Brûlée SARL;Sète",
    "Œdipe Lœb;Bœuf & Cie;Saint-Étienne",
    "Jüri Õunapuu;Tööstus OÜ;Tallinn",
    "Petra Müllerová;Hôtel Kärnten;Köln",
    "Marie-Hélène Dubé;Québec Inc;Montréal",
]


def write_list(path: Path, rows: list[str], encoding: str) -> Path:
    text = "email;name;company;city\r\n" + "".join(
        f"p{i}@example.com;{row}\r\n" for i, row in enumerate(rows)
    )
    path.write_bytes(text.encode(encoding))
    return path


def test_western_lists_stay_cp1252(tmp_path: Path) -> None:
    """Names from every Western language, together and each alone: none turns the file
    into another code page (a wrong guess would garble a whole list)."""
    assert detect_encoding(write_list(tmp_path / "all.csv", WESTERN, "cp1252")) == "cp1252"
    for i, row in enumerate(WESTERN):
        path = write_list(tmp_path / f"row{i}.csv", [row], "cp1252")
        assert detect_encoding(path) == "cp1252", row


@pytest.mark.parametrize(
    ("encoding", "rows"),
    [
        (
            "cp1250",  # Czech: cp1252 reads "Jiří" as "Jiøí"
            [
                "Jiří Dvořák;Účetní kancelář;Plzeň",
                "Kateřina Svobodová;Pekařství;České Budějovice",
                "Tomáš Černý;Železářství;Ostrava",
            ],
        ),
        (
            "cp1250",  # Hungarian: "Kőműves" as "Kõmûves"
            [
                "Szőke Ödön;Kovács és Társa;Győr",
                "Kőműves Béla;Gyümölcs Kft;Pécs",
                "Tűzoltó Ágnes;Űrhajó Zrt;Debrecen",
            ],
        ),
        (
            "cp1250",  # Romanian: "Bucureşti" as "Bucureºti"
            ["Ştefan Ionescu;Construcţii SRL;Bucureşti", "Ana Popescu;Şcoala;Timişoara"],
        ),
        (
            "cp1254",  # Turkish: "Şükrü" as "Þükrü"
            ["Şükrü Yılmaz;Çağdaş Ltd;İstanbul", "Ayşe Kaya;Güneş A.Ş.;İzmir"],
        ),
    ],
)
def test_central_european_and_turkish_lists_are_read_in_their_code_page(
    workspace: Workspace, tmp_path: Path, encoding: str, rows: list[str]
) -> None:
    path = write_list(tmp_path / "list.csv", rows, encoding)
    result = import_file(workspace, path)
    assert result.encoding == encoding
    lead = leads.find_lead(workspace, "p0@example.com")
    name, company, city = rows[0].split(";")
    assert f"{lead.first_name} {lead.last_name}" == name
    assert (lead.company, lead.custom_fields["city"]) == (company, city)
