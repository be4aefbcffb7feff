"""The data contract at the door: bad input is refused loudly (exit 2, no traceback), good input
in any accepted shape (BOM, CRLF, Parquet, timestamps) is read the same way."""
from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from workbook.cli import main
from workbook.errors import BadInput
from workbook.workspace import Workspace, open_data

ACCOUNTS = """account_id,name,segment,csm,arr,contracted_modules,signed_at,churned_at,region
A1,Acme,SMB,Jo,12000,3,2025-01-10,,EU
A2,Beta,Enterprise,Kim,250000,6,2025-02-01,2025-09-30,US
A3,Gamma,Mid-Market,Jo,48000,4,2025-03-15,,US
"""
MILESTONES = """account_id,milestone,reached_at
A1,kickoff,2025-01-12
A1,first_value,2025-02-20
A2,kickoff,2025-02-03
A3,go_live,2025-04-01
"""
USAGE = """account_id,date,module,active_users,actions
A1,2025-02-01,core,3,40
A1,2025-02-01,reports,1,0
A2,2025-02-10,core,12,300
A3,2025-04-02,core,5,55
"""
SURVEYS = """response_id,account_id,kind,score,responded_at
R1,A1,nps,9,2025-03-01
R2,A3,csat,4,2025-05-01
"""

# A valid contracts table: A1's add-on (kind expansion) overlaps its first contract, which is
# allowed; its renewal starts on the day the first contract ends (ends_at is not covered).
CONTRACTS = """account_id,contract_id,starts_at,ends_at,arr,licensed_users,modules,kind
A1,K1,2025-01-10,2026-01-10,12000,10,core;reports,new
A1,K2,2025-06-01,2026-01-10,3000,,analytics,expansion
A1,K3,2026-01-10,2027-01-10,15000,12,core; reports ;analytics,renewal
A3,K4,2025-03-15,2026-03-15,48000,,,
"""


def write_world(root: Path, **tables: str) -> Path:
    """A tiny valid world; keyword arguments replace (text) or delete (None) a table."""
    root.mkdir(parents=True, exist_ok=True)
    files = {"accounts": ACCOUNTS, "milestones": MILESTONES, "usage": USAGE, "surveys": SURVEYS}
    files.update(tables)
    for name, text in files.items():
        if text is not None:
            (root / f"{name}.csv").write_text(text, encoding="utf-8")
    return root


def validate(path, capsys) -> tuple[int, str]:
    code = main(["validate", "--data", str(path)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_valid_world_opens_and_types_columns(tmp_path):
    ws = open_data(write_world(tmp_path / "w"))
    acc = ws.frame("accounts")
    assert list(acc["account_id"]) == ["A1", "A2", "A3"]
    assert str(acc["signed_at"].dtype).startswith("datetime64")
    assert acc.loc[acc.account_id == "A2", "churned_at"].iloc[0] == pd.Timestamp("2025-09-30")
    assert acc["churned_at"].isna().sum() == 2            # empty cells are nulls
    assert acc["contracted_modules"].tolist() == [3, 6, 4]
    assert ws.row_counts() == {"accounts": 3, "milestones": 4, "usage": 4, "surveys": 2}
    assert ws.default_as_of() == pd.Timestamp("2025-04-02")
    assert not ws.has("tickets") and ws.frame("tickets").empty
    with pytest.raises(ValueError):
        ws.frame("usage")                                  # usage never comes into pandas
    # a small frame joins a query without staying registered on the workspace
    ids = pd.DataFrame({"account_id": ["A2", "A9"]}, dtype="object")
    got = ws.sql("SELECT account_id FROM accounts WHERE account_id IN (SELECT account_id FROM picked)",
                 frames={"picked": ids})
    assert got["account_id"].tolist() == ["A2"]


def test_validate_clean_world_exits_zero_and_summarises(tmp_path, capsys):
    code, text = validate(write_world(tmp_path / "w"), capsys)
    assert code == 0
    assert "valid" in text and "accounts by segment" in text and "Enterprise" in text


# ---------------------------------------------------------------------------- bad input cases
BAD_CASES = {
    "missing required table": (dict(milestones=None), "milestones", None, "required table is missing"),
    "missing required column": (dict(accounts=ACCOUNTS.replace(",csm", "", 1).replace(",Jo,", ",").replace(",Kim,", ",")),
                                "accounts", "csm", "required column is missing"),
    "unparseable date": (dict(accounts=ACCOUNTS.replace("2025-03-15", "15/03/2025")),
                         "accounts", "signed_at", "ISO date"),
    "negative arr": (dict(accounts=ACCOUNTS.replace("48000", "-1")), "accounts", "arr", ">= 0"),
    "contracted_modules 0": (dict(accounts=ACCOUNTS.replace(",4,2025-03-15", ",0,2025-03-15")),
                             "accounts", "contracted_modules", ">= 1"),
    "duplicate account_id": (dict(accounts=ACCOUNTS + "A3,Gamma bis,SMB,Jo,1,1,2025-03-16,,US\n"),
                             "accounts", "account_id", "duplicate"),
    "unknown milestone": (dict(milestones=MILESTONES + "A1,launch_party,2025-03-01\n"),
                          "milestones", "milestone", "must be one of"),
    "milestone before signature": (dict(milestones=MILESTONES + "A3,kickoff,2025-03-14\n"),
                                   "milestones", "reached_at", "signed_at"),
    "churn before signature": (dict(accounts=ACCOUNTS.replace("2025-09-30", "2025-01-31")),
                               "accounts", "churned_at", "signed_at"),
    "usage account not in accounts": (dict(usage=USAGE + "ZZ9,2025-04-03,core,1,1\n"),
                                      "usage", "account_id", "not in accounts"),
    "nps score 11": (dict(surveys=SURVEYS + "R3,A2,nps,11,2025-03-02\n"), "surveys", "score", "0..10"),
    "non-numeric actions": (dict(usage=USAGE.replace(",55", ",lots")), "usage", "actions", "whole number"),
    "contract ends before it starts": (dict(contracts=CONTRACTS.replace("2025-03-15,2026-03-15", "2025-03-15,2025-03-15")),
                                       "contracts", "ends_at", "after starts_at"),
    "negative contract arr": (dict(contracts=CONTRACTS.replace(",48000,", ",-1,")), "contracts", "arr", ">= 0"),
    "licensed_users 0": (dict(contracts=CONTRACTS.replace(",10,core", ",0,core")), "contracts", "licensed_users", ">= 1"),
    "unknown contract kind": (dict(contracts=CONTRACTS.replace(",renewal", ",upsell")), "contracts", "kind",
                              "must be one of new, renewal, expansion, contraction"),
    "empty module name": (dict(contracts=CONTRACTS.replace("core;reports,new", "core;;reports,new")),
                          "contracts", "modules", "none of them empty"),
    "duplicate contract_id": (dict(contracts=CONTRACTS.replace("A3,K4", "A3,K3")), "contracts", "contract_id", "duplicate"),
    "overlapping renewal": (dict(contracts=CONTRACTS.replace("A1,K3,2026-01-10", "A1,K3,2025-12-01")),
                            "contracts", "starts_at", "only kind expansion"),
    "contract account not in accounts": (dict(contracts=CONTRACTS + "ZZ9,K9,2025-01-01,2026-01-01,1,,,new\n"),
                                         "contracts", "account_id", "not in accounts"),
    "contract without arr": (dict(contracts=CONTRACTS.replace(",arr,", ",price,")), "contracts", "arr",
                             "required column is missing"),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_is_refused_with_exit_2_naming_table_and_column(case, tmp_path, capsys):
    tables, table, column, words = BAD_CASES[case]
    root = write_world(tmp_path / "w", **tables)
    code, text = validate(root, capsys)
    assert code == 2, text
    assert "Traceback" not in text
    assert table in text and words in text
    if column:
        assert column in text
    # the Python API raises the one bad-input type with the fields a caller needs
    with pytest.raises(BadInput) as info:
        open_data(root)
    finding = next(f for f in info.value.findings if f.table == table and f.severity == "error")
    assert finding.column == column
    assert words in finding.rule


def test_bad_input_counts_rows_and_gives_example_keys(tmp_path):
    bad = ACCOUNTS.replace("12000", "-3").replace("48000", "-7")
    with pytest.raises(BadInput) as info:
        open_data(write_world(tmp_path / "w", accounts=bad))
    err = info.value
    assert (err.table, err.column, err.rule, err.count) == ("accounts", "arr", "must be >= 0", 2)
    assert set(err.examples) == {"A1", "A3"}


def test_random_bytes_are_not_a_csv(tmp_path, capsys):
    root = write_world(tmp_path / "w")
    rnd = random.Random(3)
    (root / "usage.csv").write_bytes(bytes(rnd.randrange(256) for _ in range(4096)))
    code, text = validate(root, capsys)
    assert code == 2 and "usage" in text and "not a CSV" in text and "Traceback" not in text


def test_random_bytes_are_not_a_parquet_file(tmp_path, capsys):
    root = write_world(tmp_path / "w", usage=None)
    (root / "usage.parquet").write_bytes(bytes(range(256)) * 8)
    code, text = validate(root, capsys)
    assert code == 2 and "usage" in text and "not a readable Parquet" in text


def test_data_directory_that_does_not_exist(tmp_path, capsys):
    code, text = validate(tmp_path / "nowhere", capsys)
    assert code == 2 and "does not exist" in text and "Traceback" not in text


def test_bad_input_through_the_installed_command_has_no_traceback(tmp_path):
    root = write_world(tmp_path / "w", accounts=ACCOUNTS.replace("48000", "-1"))
    exe = Path(sys.executable).with_name("workbook")
    proc = subprocess.run([str(exe), "validate", "--data", str(root)], capture_output=True, text=True,
                          env={**os.environ, "WORKBOOK_DEBUG": ""})
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "accounts" in proc.stdout and "arr" in proc.stdout


def test_table_given_twice_is_refused(tmp_path):
    root = write_world(tmp_path / "w")
    pd.read_csv(root / "surveys.csv").to_parquet(root / "surveys.parquet")
    with pytest.raises(BadInput, match="given twice"):
        open_data(root)


def test_wrong_extension_is_named_in_missing_table_message(tmp_path):
    root = write_world(tmp_path / "w", usage=None)
    (root / "usage.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(BadInput, match=r"usage.xlsx, which is not \.csv or \.parquet"):
        open_data(root)


def test_several_problems_are_all_reported(tmp_path, capsys):
    root = write_world(tmp_path / "w", accounts=ACCOUNTS.replace("48000", "-1"),
                       surveys=SURVEYS + "R3,A2,nps,11,2025-03-02\n")
    code, text = validate(root, capsys)
    assert code == 2 and "arr" in text and "0..10" in text


# ---------------------------------------------------------------------------- accepted as normal
def test_bom_and_windows_line_endings_are_read_normally(tmp_path):
    plain = open_data(write_world(tmp_path / "plain"))
    root = write_world(tmp_path / "bom")
    for name in ("accounts", "milestones", "usage"):
        text = (root / f"{name}.csv").read_text()
        (root / f"{name}.csv").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    bom = open_data(root)
    pd.testing.assert_frame_equal(plain.frame("accounts"), bom.frame("accounts"))
    pd.testing.assert_frame_equal(plain.sql("SELECT * FROM usage ORDER BY ALL"), bom.sql("SELECT * FROM usage ORDER BY ALL"))


@pytest.mark.parametrize("table", ["accounts", "milestones", "usage", "surveys"])
def test_any_table_as_parquet_gives_the_same_data(table, tmp_path):
    csv_ws = open_data(write_world(tmp_path / "csv"))
    root = write_world(tmp_path / "pq", **{table: None})
    raw = pd.read_csv(pd.io.common.StringIO({"accounts": ACCOUNTS, "milestones": MILESTONES,
                                              "usage": USAGE, "surveys": SURVEYS}[table]))
    for col in ("signed_at", "churned_at", "reached_at", "date", "responded_at"):
        if col in raw:
            raw[col] = pd.to_datetime(raw[col]).dt.date     # native Parquet DATE columns
    raw.to_parquet(root / f"{table}.parquet", index=False)
    pq_ws = open_data(root)
    assert pq_ws.tables[table].format == "parquet"
    q = f"SELECT * FROM {table} ORDER BY ALL"
    pd.testing.assert_frame_equal(csv_ws.sql(q), pq_ws.sql(q))


def test_timestamps_are_truncated_to_dates_and_booleans_accept_the_spellings(tmp_path):
    root = write_world(tmp_path / "w", milestones=MILESTONES.replace("2025-02-20", "2025-02-20T17:45:00"))
    (root / "touchpoints.csv").write_text(
        "account_id,date,kind,direction,responded,attended\n"
        "A1,2025-02-01,email,outbound,yes,\nA1,2025-02-02,call,outbound,0,\nA3,2025-05-01,review,inbound,,TRUE\n")
    ws = open_data(root)
    fv = ws.frame("milestones").query("milestone == 'first_value'")["reached_at"].iloc[0]
    assert fv == pd.Timestamp("2025-02-20")
    tp = ws.frame("touchpoints")
    assert tp["responded"].tolist()[:2] == [True, False] and pd.isna(tp["responded"].iloc[2])
    assert tp["attended"].iloc[2] == True  # noqa: E712 - pandas boolean


def test_repeated_milestone_is_a_warning_and_the_earliest_counts(tmp_path, capsys):
    root = write_world(tmp_path / "w", milestones=MILESTONES + "A1,kickoff,2025-01-11\nA1,kickoff,2025-01-20\n")
    ws = open_data(root)
    assert [w.rule.split(":")[0] for w in ws.warnings] == ["repeats for the same account"]
    assert ws.warnings[0].count == 2
    kick = ws.frame("milestones").query("account_id == 'A1' and milestone == 'kickoff'")
    assert kick["reached_at"].tolist() == [pd.Timestamp("2025-01-11")]
    code, text = validate(root, capsys)
    assert code == 0 and "warning" in text


def test_extra_columns_are_kept_and_ignored(tmp_path):
    root = write_world(tmp_path / "w", accounts=ACCOUNTS.replace("region\n", "region,tier\n")
                       .replace(",EU\n", ",EU,gold\n").replace(",US\n", ",US,\n"))
    ws = open_data(root)
    assert "tier" in ws.frame("accounts").columns


def test_duckdb_database_file_is_a_source(tmp_path):
    import duckdb
    src = write_world(tmp_path / "w")
    db = tmp_path / "world.duckdb"
    con = duckdb.connect(str(db))
    for name in ("accounts", "milestones", "usage", "surveys"):
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{src / (name + '.csv')}', all_varchar=true)")
    con.close()
    from_db = open_data(db)
    from_dir = open_data(src)
    pd.testing.assert_frame_equal(from_db.frame("accounts"), from_dir.frame("accounts"))
    assert from_db.row_counts() == from_dir.row_counts()


def test_fingerprint_changes_with_content(tmp_path):
    a = open_data(write_world(tmp_path / "a")).fingerprint()
    b = open_data(write_world(tmp_path / "b")).fingerprint()
    c = open_data(write_world(tmp_path / "c", usage=USAGE.replace(",55", ",56"))).fingerprint()
    assert a == b and a != c and len(a) == 16


def test_workspace_keeps_usage_out_of_pandas(tmp_path):
    ws = Workspace(write_world(tmp_path / "w"))
    kind = ws.sql("SELECT table_type FROM information_schema.tables WHERE table_name = 'usage'")
    assert kind["table_type"].iloc[0] in ("BASE TABLE", "VIEW")
    assert "usage" not in ws._frames


# ---------------------------------------------------------------------------- ranges, placeholders, files
CONTACTS = """contact_id,account_id,role,started_at,left_at
C1,A1,champion,2025-01-10,9999-12-31
C2,A1,user,2025-01-10,2025-06-01
C3,A3,champion,2025-03-15,
"""


def test_far_future_end_date_is_read_as_empty_and_counted_as_a_warning(tmp_path):
    ws = open_data(write_world(tmp_path / "w", contacts=CONTACTS))
    warning = next(w for w in ws.warnings if w.table == "contacts")
    assert (warning.column, warning.count, warning.examples) == ("left_at", 1, ("C1",))
    assert "read as empty" in warning.rule
    left = ws.frame("contacts").set_index("contact_id")["left_at"]
    assert pd.isna(left["C1"]) and left["C2"] == pd.Timestamp("2025-06-01")


@pytest.mark.parametrize("table, text, column", [
    ("contacts", CONTACTS.replace("9999-12-31", "3000-01-01"), "left_at"),      # not a placeholder
    ("accounts", ACCOUNTS.replace("2025-01-10", "1850-01-10"), "signed_at"),
    ("milestones", MILESTONES.replace("2025-04-01", "9999-12-31"), "reached_at"),  # not an end column
])
def test_dates_outside_the_supported_range_are_errors(tmp_path, table, text, column):
    with pytest.raises(BadInput) as info:
        open_data(write_world(tmp_path / "w", **{table: text}))
    finding = next(f for f in info.value.findings if f.severity == "error")
    assert (finding.table, finding.column) == (table, column)
    assert finding.rule == "must lie between 1900-01-01 and 2199-12-31"


def test_whole_number_beyond_64_bits_is_out_of_range_not_a_type_error(tmp_path):
    with pytest.raises(BadInput) as info:
        open_data(write_world(tmp_path / "w", usage=USAGE.replace(",55", ",9223372036854775808")))
    assert (info.value.table, info.value.column) == ("usage", "actions")
    assert info.value.rule.startswith("is out of range")


def test_repeated_header_name_is_an_error_naming_the_column(tmp_path):
    with pytest.raises(BadInput) as info:
        open_data(write_world(tmp_path / "w", surveys=SURVEYS.replace("responded_at\n", "responded_at, Score\n")
                              .replace("2025-03-01\n", "2025-03-01,1\n").replace("2025-05-01\n", "2025-05-01,2\n")))
    assert (info.value.table, info.value.column) == ("surveys", "score")
    assert "appears 2 times in the header of surveys.csv" in info.value.rule


def test_duckdb_source_connection_cannot_open_other_files(tmp_path):
    import duckdb
    src = write_world(tmp_path / "w")
    db = tmp_path / "world.duckdb"
    con = duckdb.connect(str(db))
    for name in ("accounts", "milestones", "usage"):
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{src / (name + '.csv')}', all_varchar=true)")
    con.close()
    ws = open_data(db)
    assert ws.row_counts()["usage"] == 4
    with pytest.raises(duckdb.Error, match="disabled"):
        ws.sql(f"SELECT * FROM read_text('{src / 'accounts.csv'}')")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_usage_duplicates_and_rules_come_from_one_pass(tmp_path, fmt):
    """The rule counts, the unknown accounts, the duplicate-key look and the date range share one
    scan of usage; a repeated (account, date, module) is still confirmed exactly and named."""
    usage = USAGE + "A1,2025-02-01,core,9,9\nA1,2025-02-01,core,1,-1\nZZ,2025-02-05,core,1,1\n"
    root = write_world(tmp_path / "w", usage=usage)
    if fmt == "parquet":
        import duckdb
        duckdb.sql(f"COPY (SELECT * FROM read_csv('{root / 'usage.csv'}', all_varchar=true)) "
                   f"TO '{root / 'usage.parquet'}' (FORMAT PARQUET)")
        (root / "usage.csv").unlink()
    ws = Workspace(root, validate=False)
    got = {(f.table, f.column, f.rule): (f.count, f.examples) for f in ws.findings}
    assert got[("usage", None, "duplicate account_id, date, module: each must appear once")] == \
        (3, ("A1 2025-02-01 core",))
    assert got[("usage", "actions", "must be >= 0")] == (1, ("A1 2025-02-01 core",))
    assert got[("usage", "account_id", "refers to an account that is not in accounts")] == (1, ("ZZ",))
    assert ws.tables["usage"].rows == 7
    assert ws.usage_date_range == (pd.Timestamp("2025-02-01"), pd.Timestamp("2025-04-02"))
    ws.close()


def test_contracts_table_is_read_typed_and_keyed_in_the_receipt(tmp_path):
    from workbook.workspace import receipt_key
    root = write_world(tmp_path / "w", contracts=CONTRACTS)
    with open_data(root) as ws:                      # the add-on overlap and the renewal are valid
        c = ws.frame("contracts")
    assert c["contract_id"].tolist() == ["K1", "K2", "K3", "K4"]
    assert str(c["ends_at"].dtype).startswith("datetime64") and c["licensed_users"].isna().tolist() == [
        False, True, False, True]
    assert "contracts.csv" in receipt_key(root)["files"]       # a changed contracts file revalidates


def test_overlapping_contracts_name_both_and_count_them(tmp_path):
    bad = CONTRACTS.replace("A1,K3,2026-01-10", "A1,K3,2025-12-01")
    with pytest.raises(BadInput) as info:
        open_data(write_world(tmp_path / "w", contracts=bad))
    finding = next(f for f in info.value.findings if f.table == "contracts")
    assert (finding.column, finding.count, finding.examples) == ("starts_at", 2, ("K1", "K3"))
