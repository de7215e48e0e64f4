"""Regenerate the independent bad-input corpus (files, cases.json, README.md table).

Written from the project README only (no source code was read). Run from anywhere:
    python tests/corpus/independent/gen_corpus.py
Standard library only. Deterministic output.
"""
import json
import os
import shutil
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REL = "tests/corpus/independent"          # argv paths are relative to the repository root
OK = f"{REL}/_ok"
DB_ENV = {"MEDALIGN_DATABASE_URL": "sqlite:///{tmp}/medalign.db"}

CASES = []


def w(name, data):
    p = HERE / name
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    p.write_bytes(data)


def jl(*objs):
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs)


def case(file, argv, expect, why, should, env=None, no_output=None):
    c = {"file": f"{REL}/{file}", "argv": argv, "expect": expect, "why": why, "should": should}
    if env:
        c["env"] = env
    if no_output:
        c["no_output"] = no_output
    CASES.append(c)


# ---------------------------------------------------------------- commands (argv templates)
PQ = ["medalign", "data", "prepare", "pubmedqa", "--source", "{file}", "--n", "10", "--holdout", "2",
      "--seed", "0", "--out", "{tmp}/out"]
PQ_TEMPLATE = ["medalign", "data", "prepare", "pubmedqa", "--source", "sample", "--n", "10", "--holdout", "2",
               "--template", "@{file}", "--out", "{tmp}/out"]
MEQ = ["medalign", "data", "prepare", "meqsum", "--source", "{file}", "--out", "{tmp}/out"]
MEDQA = ["medalign", "data", "prepare", "medqa", "--source", "{file}", "--holdout", "1", "--out", "{tmp}/out"]
STUDY = ["medalign", "study", "create", "--name", "s1", "--answers", "{file}", "--systems", "sft,dpo",
         "--overlap", "2", "--guidelines", f"{OK}/guidelines.md"]
STUDY3 = ["medalign", "study", "create", "--kind", "pairwise", "--name", "s3", "--answers", "{file}",
          "--systems", "base,sft,dpo", "--pairs", "sft:dpo,base:dpo", "--overlap", "2",
          "--guidelines", f"{OK}/guidelines.md"]
GOLD = ["medalign", "study", "create", "--name", "g1", "--answers", f"{OK}/answers.jsonl", "--systems", "sft,dpo",
        "--overlap", "2", "--guidelines", f"{OK}/guidelines.md", "--gold", "{file}"]
GUIDE = ["medalign", "study", "create", "--name", "gd1", "--answers", f"{OK}/answers.jsonl", "--systems",
         "sft,dpo", "--overlap", "2", "--guidelines", "{file}"]
RATING = ["medalign", "study", "create", "--kind", "rating", "--name", "r1", "--answers", f"{OK}/answers.jsonl",
          "--systems", "sft,dpo", "--rubric", "{file}", "--overlap", "2", "--guidelines", f"{OK}/guidelines.md"]
REPORT = ["medalign", "report", "--judgments", "{file}", "--out", "{tmp}/report"]
FEEDBACK = ["medalign", "train", "feedback", "--judgments", "{file}", "--out", "{tmp}/pairs"]
HQ = ["medalign", "report", "hq", "--generations", "{file}"]
SCORE = ["medalign", "eval", "score", "--generations", "{file}"]
COMPARE = ["medalign", "report", "compare", "--task", "triage", "--out", "{tmp}/compare",
           "--predictions", "base={file},sft={file},dpo={file}"]
COMPARE_R = ["medalign", "report", "compare", "--task", "meqsum", "--out", "{tmp}/compare",
             "--ratings", "{file}", "--criterion", "quality"]
TASKS = ["medalign", "tasks", "show", "{file}"]
SFT = ["medalign", "train", "sft", "--config", "{file}", "--set", "output_dir={tmp}/run"]
DPO = ["medalign", "train", "dpo", "--config", "{file}", "--set", "output_dir={tmp}/run"]
DPO_PAIRS = ["medalign", "train", "dpo", "--config", "configs/tiny/dpo.yaml", "--pairs", "{file}",
             "--set", "output_dir={tmp}/run"]

R = "refuse"
C = "clean"
S_REF = "exit non-zero (2), message names the file and line/record and field; no traceback; nothing written"
S_CLEAN = "either accept or refuse with a clear message; never a traceback"

NO_OUT = ["{tmp}/out"]


def pq(i, **kw):
    o = {"id": f"pq{i:03d}",
         "question": f"Does intervention {i} reduce postoperative complications in adults?",
         "context": f"BACKGROUND: Complications are common.\nMETHODS: Cohort {i} of 120 patients.\nRESULTS: Rates fell from 20% to 12%.",
         "answer": f"Yes. Intervention {i} was associated with fewer complications.",
         "final_decision": "yes"}
    o.update(kw)
    return o


def ans(i, **kw):
    o = {"id": f"q{i}", "question": f"Is treatment {i} effective for condition {i}?",
         "context": "RESULTS: The treatment group improved more than control.",
         "reference": "Yes, it was effective.",
         "outputs": {"sft": f"Treatment {i} appears effective.", "dpo": f"Yes. Treatment {i} improved outcomes."}}
    o.update(kw)
    return o


def gen(i, **kw):
    return ans(i, **kw)


def main():
    if HERE.exists():
        for p in HERE.iterdir():
            if p.name in ("gen_corpus.py",):
                continue
            if p.is_symlink() or p.is_file():
                p.unlink()
            else:
                shutil.rmtree(p)

    # ---------------- helpers / controls (expected to be ACCEPTED) ----------------
    w("_ok/guidelines.md", "# Guidelines\n\nPick the answer that is more accurate and more helpful.\n")
    w("_ok/answers.jsonl", jl(*[ans(i) for i in range(1, 5)]))
    w("_ok/pubmedqa.jsonl", jl(*[pq(i) for i in range(1, 13)]))
    w("_ok/meqsum.csv", "File,CHQ,Summary\n" + "".join(
        f'{i}.txt,"SUBJECT: pain\nI have had back pain for {i} weeks, what should I do?",What are the treatments for back pain?\n'
        for i in range(1, 13)))
    ctrl = [
        ("_ok/answers.jsonl", STUDY, "control: valid answers file", DB_ENV),
        ("_ok/answers.jsonl", ["medalign", "study", "create", "--kind", "rating", "--name", "r1", "--answers", "{file}",
                               "--systems", "sft,dpo", "--rubric", "configs/rubrics/summary-quality.yaml",
                               "--overlap", "2", "--guidelines", f"{OK}/guidelines.md"], "control: rating study with shipped rubric", DB_ENV),
        ("_ok/pubmedqa.jsonl", PQ, "control: valid PubMedQA JSONL", None),
        ("_ok/meqsum.csv", MEQ, "control: valid MeQSum CSV (quoted newline in CHQ)", None),
    ]
    for f, argv, why, env in ctrl:
        c = {"file": f"{REL}/{f}", "argv": argv, "expect": "accept", "why": why,
             "should": "exit 0 (controls: if these fail, the refusals below may be for the wrong reason)"}
        if env:
            c["env"] = env
        CASES.append(c)

    # ---------------- data prepare pubmedqa ----------------
    good = jl(pq(1), pq(2), pq(3))
    w("pq_truncated.jsonl", good + json.dumps(pq(4))[:70])
    case("pq_truncated.jsonl", PQ, R, "last line cut off mid-object", S_REF + " (line 4)", no_output=NO_OUT)
    w("pq_missing_question.jsonl", good + jl({k: v for k, v in pq(4).items() if k != "question"}))
    case("pq_missing_question.jsonl", PQ, R, "record 4 has no `question`", S_REF + " (line 4, field question)", no_output=NO_OUT)
    w("pq_answer_number.jsonl", good + jl(pq(4, answer=42)))
    case("pq_answer_number.jsonl", PQ, R, "`answer` is a number", S_REF + " (line 4, field answer)", no_output=NO_OUT)
    w("pq_context_null.jsonl", good + jl(pq(4, context=None)))
    case("pq_context_null.jsonl", PQ, R, "`context` is null", S_REF + " (line 4, field context)", no_output=NO_OUT)
    w("pq_answer_object.jsonl", good + jl(pq(4, answer={"text": "yes"})))
    case("pq_answer_object.jsonl", PQ, R, "`answer` is an object", S_REF, no_output=NO_OUT)
    w("pq_empty_question.jsonl", good + jl(pq(4, question="   ")))
    case("pq_empty_question.jsonl", PQ, R, "`question` is blank", S_REF + " (line 4, field question)", no_output=NO_OUT)
    w("pq_bad_final_decision.jsonl", good + jl(pq(4, final_decision="perhaps")))
    case("pq_bad_final_decision.jsonl", PQ, R, "final_decision not yes/no/maybe", S_REF + " (line 4, field final_decision)", no_output=NO_OUT)
    w("pq_nan.jsonl", good + '{"id": "pq004", "question": "Q4?", "context": "C", "answer": NaN}\n')
    case("pq_nan.jsonl", PQ, R, "bare NaN (not JSON)", S_REF, no_output=NO_OUT)
    w("pq_infinity.jsonl", good + '{"id": Infinity, "question": "Q4?", "context": "C", "answer": "A"}\n')
    case("pq_infinity.jsonl", PQ, R, "bare Infinity as id", S_REF, no_output=NO_OUT)
    w("pq_huge_int_id.jsonl", good + '{"id": ' + "9" * 5000 + ', "question": "Q4?", "context": "C", "answer": "A"}\n')
    case("pq_huge_int_id.jsonl", PQ, R, "5000-digit integer id (Python's int-string limit)", S_REF, no_output=NO_OUT)
    w("pq_huge_float.jsonl", good + '{"id": "pq004", "question": "Q4?", "context": "C", "answer": "A", "final_decision": 1e999}\n')
    case("pq_huge_float.jsonl", PQ, R, "1e999 overflows to inf", S_REF, no_output=NO_OUT)
    w("pq_bom.jsonl", b"\xef\xbb\xbf" + jl(*[pq(i) for i in range(1, 13)]).encode())
    case("pq_bom.jsonl", PQ, C, "UTF-8 BOM before line 1 (valid records)", S_CLEAN + "; accepting (BOM stripped) is best", no_output=None)
    w("pq_utf16.jsonl", jl(*[pq(i) for i in range(1, 13)]).encode("utf-16"))
    case("pq_utf16.jsonl", PQ, R, "UTF-16 LE with BOM", S_REF + " (says the file is not UTF-8)", no_output=NO_OUT)
    w("pq_latin1.jsonl", (good + jl(pq(4, question="Is caf\u00e9 au lait spot count predictive?"))).encode("latin-1"))
    case("pq_latin1.jsonl", PQ, R, "Latin-1 byte 0xE9 on line 4", S_REF + " (line 4, invalid UTF-8)", no_output=NO_OUT)
    w("pq_nul.jsonl", good.encode() + b'{"id": "pq004", "question": "Q\x004?", "context": "C", "answer": "A"}\n')
    case("pq_nul.jsonl", PQ, R, "raw NUL byte inside a string on line 4", S_REF, no_output=NO_OUT)
    w("pq_escaped_nul.jsonl", good + jl(pq(4, answer="Yes\u0000 it works")))
    case("pq_escaped_nul.jsonl", PQ, R, "\\u0000 escape in answer (breaks PostgreSQL text, invisible in UI)", S_REF + " or strip it", no_output=NO_OUT)
    w("pq_lone_surrogate.jsonl", good + '{"id": "pq004", "question": "Q4 \\ud800?", "context": "C", "answer": "A"}\n')
    case("pq_lone_surrogate.jsonl", PQ, R, "lone surrogate \\ud800 (parses, but cannot be written as UTF-8)", S_REF, no_output=NO_OUT)
    w("pq_crlf.jsonl", jl(*[pq(i) for i in range(1, 13)]).replace("\n", "\r\n"))
    case("pq_crlf.jsonl", PQ, C, "CRLF line endings, valid records", S_CLEAN + "; should accept and give the same files as LF")
    w("pq_empty.jsonl", b"")
    case("pq_empty.jsonl", PQ, R, "0-byte file", S_REF + " (file is empty)", no_output=NO_OUT)
    w("pq_whitespace.jsonl", "   \n\t\n\n  \r\n")
    case("pq_whitespace.jsonl", PQ, R, "only whitespace", S_REF, no_output=NO_OUT)
    w("pq_blank_line_middle.jsonl", jl(pq(1), pq(2)) + "\n" + jl(*[pq(i) for i in range(3, 13)]))
    case("pq_blank_line_middle.jsonl", PQ, C, "a blank line between records", S_CLEAN + "; skipping blank lines is fine, line numbers must stay true")
    w("pq_duplicate_ids.jsonl", jl(*[pq(i) for i in range(1, 12)]) + jl(pq(1, question="A completely different question about asthma?")))
    case("pq_duplicate_ids.jsonl", PQ, R, "two records share id pq001 with different questions", S_REF + " (names the id and both lines)", no_output=NO_OUT)
    w("pq_duplicate_keys.jsonl", good + '{"id": "pq004", "question": "First?", "question": "Second?", "context": "C", "answer": "A"}\n')
    case("pq_duplicate_keys.jsonl", PQ, R, "key `question` twice in one object", S_REF + " (ambiguous record)", no_output=NO_OUT)
    w("pq_deep_nesting.jsonl", good + '{"id": "pq004", "question": "Q?", "answer": "A", "context": ' + "[" * 10000 + "]" * 10000 + "}\n")
    case("pq_deep_nesting.jsonl", PQ, R, "context nested 10000 deep (RecursionError bait)", S_REF, no_output=NO_OUT)
    w("pq_top_level_array.jsonl", json.dumps([pq(1), pq(2)]) + "\n")
    case("pq_top_level_array.jsonl", PQ, R, "one line holding a JSON array", S_REF + " (line 1 is not an object)", no_output=NO_OUT)
    w("pq_scalar_line.jsonl", good + '"just a string"\n')
    case("pq_scalar_line.jsonl", PQ, R, "a line that is a JSON string", S_REF, no_output=NO_OUT)
    w("pq_python_dict.jsonl", good + str(pq(4)) + "\n")
    case("pq_python_dict.jsonl", PQ, R, "Python repr with single quotes", S_REF, no_output=NO_OUT)
    w("pq_trailing_comma.jsonl", good + json.dumps(pq(4))[:-1] + ",}\n")
    case("pq_trailing_comma.jsonl", PQ, R, "trailing comma in object", S_REF, no_output=NO_OUT)
    w("pq_png.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" + bytes(range(256)))
    case("pq_png.jsonl", PQ, R, "PNG bytes named .jsonl", S_REF + " (not text/JSON)", no_output=NO_OUT)
    (HERE / "pq_directory.jsonl").mkdir()
    w("pq_directory.jsonl/.gitkeep", "")
    case("pq_directory.jsonl", PQ, R, "a directory where a file is expected", S_REF + " (is a directory)", no_output=NO_OUT)
    os.symlink("pq_symlink_loop.jsonl", HERE / "pq_symlink_loop.jsonl")
    case("pq_symlink_loop.jsonl", PQ, R, "symlink pointing at itself (ELOOP)", S_REF, no_output=NO_OUT)
    case("pq_does_not_exist.jsonl", PQ, R, "path that does not exist (no file is written for this case)", S_REF + " (no such file)", no_output=NO_OUT)
    with open(HERE / "pq_long_line.jsonl", "wb") as f:   # ~5 MB, one line, never closed
        f.write(b'{"id": "pq001", "question": "Q?", "context": "C", "answer": "')
        f.write(b"a" * (5 * 1024 * 1024))
    case("pq_long_line.jsonl", PQ, R, "5 MB single line, string never closed, no newline", S_REF + " (line 1); no memory blow-up", no_output=NO_OUT)
    w("pq_too_few_for_holdout.jsonl", jl(pq(1), pq(2)))
    case("pq_too_few_for_holdout.jsonl", PQ, R, "2 records, --holdout 2 leaves nothing to train on", S_REF + " (holdout >= records)", no_output=NO_OUT)
    w("pq_all_duplicates.jsonl", jl(*[pq(1, id=f"x{i}") for i in range(12)]))
    case("pq_all_duplicates.jsonl", PQ, R, "12 records, one normalised question: 1 left after de-dup", S_REF + " (too few after de-duplication)", no_output=NO_OUT)
    w("pq_ragged.csv", "question,context,answer\nQ1?,C1,A1\nQ2?,C2\nQ3?,C3,A3,extra\n")
    case("pq_ragged.csv", PQ, R, "CSV rows with 2 and 4 fields under a 3-field header", S_REF + " (row/line number)", no_output=NO_OUT)
    w("pq_missing_column.csv", "question,context\nQ1?,C1\nQ2?,C2\n")
    case("pq_missing_column.csv", PQ, R, "CSV without the answer column", S_REF + " (names the missing column)", no_output=NO_OUT)
    w("pq_duplicate_header.csv", "question,context,answer,question\nQ1?,C1,A1,Q1b?\n")
    case("pq_duplicate_header.csv", PQ, R, "CSV header names `question` twice", S_REF, no_output=NO_OUT)
    w("pq_unterminated_quote.csv", 'question,context,answer\n"Q1?,C1,A1\nQ2?,C2,A2\n')
    case("pq_unterminated_quote.csv", PQ, R, "opening quote never closed", S_REF, no_output=NO_OUT)
    w("pq_quoted_newlines.csv", "question,context,answer\n" + "".join(
        f'"Does drug {i} help?","BACKGROUND: b{i}\nRESULTS: r{i}","Yes.\nIt helped."\n' for i in range(1, 13)))
    case("pq_quoted_newlines.csv", PQ, C, "valid quoted newlines inside fields", S_CLEAN + "; should accept, newlines kept")
    w("pq_formula.csv", "question,context,answer\n" + "".join(
        f'"=HYPERLINK(""http://x.invalid/{i}"",""click"")","+1+{i}","-{i} @SUM(A1:A9)"\n' for i in range(1, 13)))
    case("pq_formula.csv", PQ, C, "cells starting with = + - @", S_CLEAN + "; text must be kept verbatim (it is data, not a formula)")
    w("pq_semicolon.csv", "question;context;answer\nQ1?;C1;A1\n")
    case("pq_semicolon.csv", PQ, R, "semicolon-delimited CSV (European Excel)", S_REF + " (missing columns)", no_output=NO_OUT)
    w("pq_ori_labels_mismatch.json", json.dumps({"123": {"QUESTION": "Q?", "CONTEXTS": ["a", "b"], "LABELS": ["BACKGROUND"],
                                                      "LONG_ANSWER": "A", "final_decision": "yes", "MESHES": [], "YEAR": "2001"}}))
    case("pq_ori_labels_mismatch.json", PQ, R, "ori_pqal-style: 2 CONTEXTS, 1 LABEL", S_REF + " (record 123, field LABELS)", no_output=NO_OUT)
    w("pq_ori_list.json", json.dumps([{"QUESTION": "Q?", "CONTEXTS": ["a"], "LABELS": ["X"], "LONG_ANSWER": "A"}]))
    case("pq_ori_list.json", PQ, R, "ori_pqal-style file whose top level is a list", S_REF, no_output=NO_OUT)
    w("pq_ori_missing_long_answer.json", json.dumps({str(100 + i): {"QUESTION": f"Q{i}?", "CONTEXTS": ["a"], "LABELS": ["X"],
                                                                  "final_decision": "yes"} for i in range(12)}))
    case("pq_ori_missing_long_answer.json", PQ, R, "ori_pqal-style records without LONG_ANSWER", S_REF + " (record id, field LONG_ANSWER)", no_output=NO_OUT)
    w("pq_unknown.txt", "question: is this a supported format?\n")
    case("pq_unknown.txt", PQ, R, "unsupported extension .txt", S_REF + " (lists supported formats)", no_output=NO_OUT)

    # templates
    w("template_no_placeholders.txt", "### Answer:\n")
    case("template_no_placeholders.txt", PQ_TEMPLATE, R, "template without {question}/{context}", S_REF + " (template file, missing placeholder)", no_output=NO_OUT)
    w("template_unknown_placeholder.txt", "### Context:\n{context}\n\n### Question:\n{question}\n{patient_age}\n### Answer:\n")
    case("template_unknown_placeholder.txt", PQ_TEMPLATE, R, "unknown placeholder {patient_age}", S_REF + " (names the placeholder)", no_output=NO_OUT)
    w("template_unbalanced.txt", "### Context:\n{context\n\n### Question:\n{question}}\n### Answer:\n")
    case("template_unbalanced.txt", PQ_TEMPLATE, R, "unbalanced braces", S_REF, no_output=NO_OUT)
    w("template_attr_access.txt", "{question.__class__.__mro__}\n{context}\n### Answer:\n")
    case("template_attr_access.txt", PQ_TEMPLATE, R, "format-string attribute access", S_REF + " (never evaluates attributes)", no_output=NO_OUT)
    w("template_empty.txt", b"")
    case("template_empty.txt", PQ_TEMPLATE, R, "empty template file", S_REF, no_output=NO_OUT)

    # ---------------- data prepare meqsum / medqa ----------------
    w("meqsum_wrong_columns.csv", "Question,Summary\nhello,what?\n")
    case("meqsum_wrong_columns.csv", MEQ, R, "columns Question,Summary instead of File,CHQ,Summary", S_REF + " (names missing CHQ/File)", no_output=NO_OUT)
    w("meqsum_missing_summary.jsonl", jl({"File": "1.txt", "CHQ": "pain?", "Summary": "What treats pain?"}, {"File": "2.txt", "CHQ": "cough?"}))
    case("meqsum_missing_summary.jsonl", MEQ, R, "line 2 has no Summary", S_REF + " (line 2, field Summary)", no_output=NO_OUT)
    w("meqsum_latin1.csv", "File,CHQ,Summary\n1.txt,J'ai mal \u00e0 la t\u00eate,What treats headache?\n".encode("latin-1"))
    case("meqsum_latin1.csv", MEQ, R, "Latin-1 encoded CSV", S_REF + " (line 2, invalid UTF-8)", no_output=NO_OUT)
    w("meqsum_formula.csv", "File,CHQ,Summary\n" + "".join(
        f"{i}.txt,\"=cmd|' /C calc'!A{i}\",\"@SUM(1+{i}) what is it?\"\n" for i in range(1, 13)))
    case("meqsum_formula.csv", MEQ, C, "formula-looking cells", S_CLEAN + "; keep text verbatim")
    w("meqsum_fake.xlsx", "File,CHQ,Summary\n1.txt,q,s\n")
    case("meqsum_fake.xlsx", MEQ, R, "a CSV text file named .xlsx", S_REF + " (not an Excel workbook)", no_output=NO_OUT)
    _xlsx(HERE / "meqsum_wrong_columns.xlsx", [["Id", "Question", "Answer"], ["1", "pain?", "rest"]])
    case("meqsum_wrong_columns.xlsx", MEQ, R, "real .xlsx with columns Id/Question/Answer", S_REF + " (names the missing columns)", no_output=NO_OUT)
    _xlsx(HERE / "meqsum_empty_cells.xlsx", [["File", "CHQ", "Summary"], ["1.txt", "pain?", "What treats pain?"], ["2.txt", "", ""]])
    case("meqsum_empty_cells.xlsx", MEQ, R, ".xlsx with an empty CHQ and Summary on row 3", S_REF + " (row 3, field CHQ)", no_output=NO_OUT)
    w("medqa_bad_answer_idx.jsonl", jl({"question": "Which drug?", "options": {"A": "a", "B": "b", "C": "c", "D": "d"}, "answer_idx": "E", "answer": "e"},
                                       {"question": "Which dose?", "options": {"A": "a", "B": "b", "C": "c", "D": "d"}, "answer_idx": "A", "answer": "a"}))
    case("medqa_bad_answer_idx.jsonl", MEDQA, R, "answer_idx E not among options", S_REF + " (line 1, field answer_idx)", no_output=NO_OUT)
    w("medqa_options_list.jsonl", jl({"question": "Which drug?", "options": ["a", "b", "c", "d"], "answer_idx": "A", "answer": "a"},
                                     {"question": "Which dose?", "options": {"A": "a", "B": "b"}, "answer_idx": "A", "answer": "a"}))
    case("medqa_options_list.jsonl", MEDQA, R, "options is a list, not a mapping", S_REF + " (line 1, field options)", no_output=NO_OUT)
    w("medqa_answer_mismatch.jsonl", jl({"question": "Which drug?", "options": {"A": "aspirin", "B": "heparin"}, "answer_idx": "A", "answer": "heparin"},
                                        {"question": "Which dose?", "options": {"A": "a", "B": "b"}, "answer_idx": "A", "answer": "a"}))
    case("medqa_answer_mismatch.jsonl", MEDQA, R, "answer text contradicts answer_idx", S_REF + " (line 1, fields answer/answer_idx)", no_output=NO_OUT)

    # ---------------- study create --answers ----------------
    ok4 = jl(*[ans(i) for i in range(1, 4)])
    SR = S_REF.replace("nothing written", "no study created (database unchanged)")
    w("ans_truncated.jsonl", ok4 + json.dumps(ans(4))[:60])
    case("ans_truncated.jsonl", STUDY, R, "last line cut off", SR + " (line 4)", env=DB_ENV)
    w("ans_missing_outputs.jsonl", ok4 + jl({k: v for k, v in ans(4).items() if k != "outputs"}))
    case("ans_missing_outputs.jsonl", STUDY, R, "line 4 has no outputs", SR + " (line 4, field outputs)", env=DB_ENV)
    w("ans_missing_system.jsonl", ok4 + jl(ans(4, outputs={"sft": "only one"})))
    case("ans_missing_system.jsonl", STUDY, R, "outputs lacks dpo", SR + " (line 4, outputs.dpo)", env=DB_ENV)
    w("ans_outputs_list.jsonl", ok4 + jl(ans(4, outputs=["a", "b"])))
    case("ans_outputs_list.jsonl", STUDY, R, "outputs is a list", SR + " (line 4, field outputs)", env=DB_ENV)
    w("ans_answer_number.jsonl", ok4 + jl(ans(4, outputs={"sft": 42, "dpo": None})))
    case("ans_answer_number.jsonl", STUDY, R, "answers are a number and null", SR + " (line 4, outputs.sft)", env=DB_ENV)
    w("ans_empty_answer.jsonl", ok4 + jl(ans(4, outputs={"sft": "", "dpo": "Yes."})))
    case("ans_empty_answer.jsonl", STUDY, R, "empty answer string", SR + " (line 4, outputs.sft)", env=DB_ENV)
    w("ans_whitespace_answer.jsonl", ok4 + jl(ans(4, outputs={"sft": " \n\t\u00a0", "dpo": "Yes."})))
    case("ans_whitespace_answer.jsonl", STUDY, R, "answer of whitespace and NBSP only", SR + " (line 4, outputs.sft)", env=DB_ENV)
    w("ans_question_missing.jsonl", ok4 + jl({k: v for k, v in ans(4).items() if k != "question"}))
    case("ans_question_missing.jsonl", STUDY, R, "no question field", SR + " (line 4, field question)", env=DB_ENV)
    w("ans_context_number.jsonl", ok4 + jl(ans(4, context=3.14)))
    case("ans_context_number.jsonl", STUDY, R, "context is a number", SR + " (line 4, field context)", env=DB_ENV)
    w("ans_id_object.jsonl", ok4 + jl(ans(4, id={"pmid": 1})))
    case("ans_id_object.jsonl", STUDY, R, "id is an object", SR + " (line 4, field id)", env=DB_ENV)
    w("ans_nan.jsonl", ok4 + '{"id": "q4", "question": "Q?", "outputs": {"sft": NaN, "dpo": "Yes."}}\n')
    case("ans_nan.jsonl", STUDY, R, "NaN as an answer", SR, env=DB_ENV)
    w("ans_duplicate_ids.jsonl", ok4 + jl(ans(1, question="Another question entirely?")))
    case("ans_duplicate_ids.jsonl", STUDY, R, "id q1 appears on lines 1 and 4", SR + " (names id q1 and both lines)", env=DB_ENV)
    w("ans_fullwidth_ids.jsonl", ok4 + jl(ans(4, id="\uff51\uff11")))   # fullwidth "q1"
    case("ans_fullwidth_ids.jsonl", STUDY, R, "id 'ｑ１' (fullwidth) looks like q1", SR + " (look-alike of q1 after NFKC)", env=DB_ENV)
    w("ans_invisible_ids.jsonl", ok4 + jl(ans(4, id="q\u200b1")))
    case("ans_invisible_ids.jsonl", STUDY, R, "id 'q<ZWSP>1' differs from q1 only by U+200B", SR + " (invisible character in id)", env=DB_ENV)
    w("ans_trailing_space_id.jsonl", ok4 + jl(ans(4, id="q1 ")))
    case("ans_trailing_space_id.jsonl", STUDY, R, "id 'q1 ' vs 'q1'", SR, env=DB_ENV)
    w("ans_duplicate_keys.jsonl", ok4 + '{"id": "q4", "question": "Q?", "outputs": {"sft": "first", "sft": "second", "dpo": "Yes."}}\n')
    case("ans_duplicate_keys.jsonl", STUDY, R, "outputs.sft given twice", SR + " (duplicate key sft)", env=DB_ENV)
    w("ans_mentions_system.jsonl", ok4 + jl(ans(4, outputs={"sft": "Statins probably help.",
                                                           "dpo": "As the DPO model, I can say that statins reduce mortality."})))
    case("ans_mentions_system.jsonl", STUDY, R, "answer text names its system ('As the DPO model')", SR + " (blinding: line 4, outputs.dpo names a system); at the very least a loud warning", env=DB_ENV)
    w("ans_mentions_system_lookalike.jsonl", ok4 + jl(ans(4, outputs={"sft": "I am the \uff33\uff26\uff34 model; statins help.", "dpo": "Yes."})))
    case("ans_mentions_system_lookalike.jsonl", STUDY, R, "answer names 'ＳＦＴ' in fullwidth letters", SR + " (blinding through look-alike characters)", env=DB_ENV)
    w("ans_soft_tissue.jsonl", jl(*[ans(i, outputs={"sft": f"Soft-tissue sarcoma case {i}: adaptive dosing helped.",
                                                     "dpo": f"Yes; in case {i} Microsoft-style adpot scores rose."}) for i in range(1, 5)]))
    case("ans_soft_tissue.jsonl", STUDY, C, "'soft', 'adpot' contain sft/dpo letters but name no system", S_CLEAN + "; should accept (no false blinding alarm)", env=DB_ENV)
    w("ans_identical_outputs.jsonl", jl(*[ans(i, outputs={"sft": "Same text.", "dpo": "Same text."}) for i in range(1, 5)]))
    case("ans_identical_outputs.jsonl", STUDY, C, "both systems give identical answers on every item", S_CLEAN + "; should warn (nothing to compare) or refuse", env=DB_ENV)
    w("ans_extra_system.jsonl", jl(*[ans(i, outputs={"sft": "a.", "dpo": "b.", "base": "c."}) for i in range(1, 5)]))
    case("ans_extra_system.jsonl", STUDY, C, "outputs has base too, --systems sft,dpo", S_CLEAN + "; ignoring the extra system is fine", env=DB_ENV)
    w("ans_unknown_system.jsonl", jl(*[ans(i, outputs={"gpt4": "a.", "claude": "b."}) for i in range(1, 5)]))
    case("ans_unknown_system.jsonl", STUDY, R, "outputs only for systems not in --systems", SR + " (line 1, outputs.sft missing)", env=DB_ENV)
    w("ans_three_missing_base.jsonl", jl(*[ans(i) for i in range(1, 5)]))
    case("ans_three_missing_base.jsonl", STUDY3, R, "--systems base,sft,dpo but no base answers", SR + " (line 1, outputs.base)", env=DB_ENV)
    w("ans_bom.jsonl", b"\xef\xbb\xbf" + ok4.encode() + jl(ans(4)).encode())
    case("ans_bom.jsonl", STUDY, C, "UTF-8 BOM, valid lines", S_CLEAN + "; accepting is best", env=DB_ENV)
    w("ans_utf16.jsonl", (ok4 + jl(ans(4))).encode("utf-16"))
    case("ans_utf16.jsonl", STUDY, R, "UTF-16 file", SR + " (not UTF-8)", env=DB_ENV)
    w("ans_latin1.jsonl", (ok4 + jl(ans(4, question="Is the na\u00efve approach safe?"))).encode("latin-1"))
    case("ans_latin1.jsonl", STUDY, R, "Latin-1 byte on line 4", SR + " (line 4)", env=DB_ENV)
    w("ans_nul.jsonl", ok4.encode() + b'{"id": "q4", "question": "Q?", "outputs": {"sft": "a\x00b", "dpo": "c"}}\n')
    case("ans_nul.jsonl", STUDY, R, "raw NUL byte in an answer", SR + " (line 4)", env=DB_ENV)
    w("ans_escaped_nul.jsonl", ok4 + jl(ans(4, outputs={"sft": "a\u0000b", "dpo": "c"})))
    case("ans_escaped_nul.jsonl", STUDY, R, "\\u0000 in an answer (PostgreSQL rejects it in text)", SR, env=DB_ENV)
    w("ans_crlf.jsonl", (ok4 + jl(ans(4))).replace("\n", "\r\n"))
    case("ans_crlf.jsonl", STUDY, C, "CRLF line endings, valid", S_CLEAN + "; should accept", env=DB_ENV)
    w("ans_empty.jsonl", b"")
    case("ans_empty.jsonl", STUDY, R, "empty file", SR + " (no items)", env=DB_ENV)
    w("ans_whitespace.jsonl", "\n\n   \n")
    case("ans_whitespace.jsonl", STUDY, R, "only blank lines", SR + " (no items)", env=DB_ENV)
    w("ans_deep_nesting.jsonl", ok4 + '{"id": "q4", "question": "Q?", "outputs": {"sft": "a", "dpo": "b"}, "context": ' + "{\"x\":" * 10000 + "1" + "}" * 10000 + "}\n")
    case("ans_deep_nesting.jsonl", STUDY, R, "context: objects nested 10000 deep", SR, env=DB_ENV)
    w("ans_png.jsonl", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    case("ans_png.jsonl", STUDY, R, "PNG bytes named .jsonl", SR, env=DB_ENV)
    (HERE / "ans_directory.jsonl").mkdir()
    w("ans_directory.jsonl/.gitkeep", "")
    case("ans_directory.jsonl", STUDY, R, "directory given as --answers", SR + " (is a directory)", env=DB_ENV)
    with open(HERE / "ans_huge_answer.jsonl", "w", encoding="utf-8") as f:
        f.write(ok4)
        f.write(json.dumps(ans(4, outputs={"sft": "word " * (1024 * 1024), "dpo": "Yes."})) + "\n")
    case("ans_huge_answer.jsonl", STUDY, R, "one 5 MB answer (valid JSON)", SR + " (line 4, outputs.sft too long); the README's own corpus refuses 1 MB answers", env=DB_ENV)
    w("ans_gold_unknown_better.jsonl", jl(ans(1, better="gpt4")))
    case("ans_gold_unknown_better.jsonl", GOLD, R, "gold line with better=gpt4 (not a study system)", SR + " (gold file line 1, field better)", env=DB_ENV)
    w("ans_gold_missing_better.jsonl", jl(ans(1)))
    case("ans_gold_missing_better.jsonl", GOLD, R, "gold line without `better`", SR + " (gold file line 1, field better)", env=DB_ENV)
    w("ans_gold_better_list.jsonl", jl(ans(1, better=["sft", "dpo"])))
    case("ans_gold_better_list.jsonl", GOLD, R, "`better` is a list", SR, env=DB_ENV)
    w("ans_gold_same_id_as_item.jsonl", jl(ans(1, better="dpo", question="A different question with the same id?")))
    case("ans_gold_same_id_as_item.jsonl", GOLD, R, "gold id q1 collides with item q1 of the answers file", SR + " (id clash between files)", env=DB_ENV)
    w("guidelines_png.md", b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    case("guidelines_png.md", GUIDE, R, "binary guidelines file", SR + " (guidelines not UTF-8 text)", env=DB_ENV)
    w("guidelines_latin1.md", "# R\u00e8gles\n\nChoisissez la meilleure r\u00e9ponse.\n".encode("latin-1"))
    case("guidelines_latin1.md", GUIDE, R, "Latin-1 guidelines", SR, env=DB_ENV)
    w("guidelines_empty.md", b"")
    case("guidelines_empty.md", GUIDE, C, "empty guidelines", S_CLEAN + "; refusing (physicians need guidelines) is better")
    CASES[-1]["env"] = DB_ENV
    (HERE / "guidelines_directory.md").mkdir()
    w("guidelines_directory.md/.gitkeep", "")
    case("guidelines_directory.md", GUIDE, R, "directory given as --guidelines", SR, env=DB_ENV)

    # ---------------- rubrics (rating study) ----------------
    rub_ok = ("name: test-rubric\ncriteria:\n  - id: quality\n    question: How good is the answer overall?\n"
              "    scale:\n      type: likert\n      points: 5\n      anchors: [Very poor, Poor, Fair, Good, Excellent]\n")
    rubrics = {
        "rubric_missing_scale.yaml": ("name: r\ncriteria:\n  - id: quality\n    question: How good?\n", R, "criterion without a scale"),
        "rubric_unknown_key.yaml": (rub_ok + "    weigth: 2\n", R, "misspelled key `weigth`"),
        "rubric_unknown_top_key.yaml": (rub_ok + "colour: blue\n", R, "unknown top-level key"),
        "rubric_tabs.yaml": (rub_ok.replace("    question", "\tquestion"), R, "tab indentation (YAML forbids tabs)"),
        "rubric_anchor_count.yaml": (rub_ok.replace("[Very poor, Poor, Fair, Good, Excellent]", "[Poor, Fair, Good]"), R, "5-point likert with 3 anchors"),
        "rubric_likert_zero.yaml": (rub_ok.replace("points: 5", "points: 0").replace("[Very poor, Poor, Fair, Good, Excellent]", "[]"), R, "likert with 0 points"),
        "rubric_likert_huge.yaml": (rub_ok.replace("points: 5", "points: 1000000000000"), R, "likert with 10^12 points"),
        "rubric_likert_string_points.yaml": (rub_ok.replace("points: 5", "points: five"), R, "points is a string"),
        "rubric_likert_float_points.yaml": (rub_ok.replace("points: 5", "points: .nan"), R, "points is NaN"),
        "rubric_choice_no_options.yaml": ("name: r\ncriteria:\n  - id: harm\n    question: Possible harm?\n    scale:\n      type: choice\n      options: []\n", R, "choice scale with no options"),
        "rubric_choice_dup_options.yaml": ("name: r\ncriteria:\n  - id: harm\n    question: Possible harm?\n    scale:\n      type: choice\n      options: [none, mild, mild]\n", R, "choice options repeat"),
        "rubric_unknown_scale_type.yaml": (rub_ok.replace("type: likert", "type: slider"), R, "scale type `slider`"),
        "rubric_dup_criterion_ids.yaml": (rub_ok + "  - id: quality\n    question: Again?\n    scale:\n      type: binary\n", R, "two criteria with id quality"),
        "rubric_no_criteria.yaml": ("name: r\ncriteria: []\n", R, "empty criteria list"),
        "rubric_empty.yaml": ("", R, "empty file"),
        "rubric_only_comment.yaml": ("# nothing here\n", R, "only a comment (loads as null)"),
        "rubric_list_top.yaml": ("- id: quality\n  question: How good?\n", R, "top level is a list"),
        "rubric_scalar_top.yaml": ("just a string\n", R, "top level is a string"),
        "rubric_dup_keys.yaml": ("name: r\ncriteria:\n  - id: a\n    question: A?\n    scale: {type: binary}\ncriteria:\n  - id: b\n    question: B?\n    scale: {type: binary}\n", R, "key `criteria` twice"),
        "rubric_python_tag.yaml": ("name: !!python/object/apply:os.system [\"echo MEDALIGN_PWNED\"]\ncriteria: []\n", R, "python object tag (must never execute)"),
        "rubric_id_invisible.yaml": (rub_ok + "  - id: \"quality\u200b\"\n    question: Again?\n    scale:\n      type: binary\n", R, "criterion ids differ only by U+200B"),
        "rubric_question_number.yaml": (rub_ok.replace("question: How good is the answer overall?", "question: 42"), R, "question is a number"),
        "rubric_deep.yaml": ("name: r\ncriteria: " + "[" * 10000 + "]" * 10000 + "\n", R, "flow sequence nested 10000 deep"),
    }
    la = ["name: r", 'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for k in range(1, 5):
        la.append(f"l{k}: &l{k} [" + ",".join([f"*l{k-1}"] * 10) + "]")
    la.append("criteria:\n  - id: q\n    question: *l4\n    scale:\n      type: likert\n      points: 5\n      anchors: *l4\n")
    rubrics["rubric_billion_laughs.yaml"] = ("\n".join(la), R, "YAML aliases expanding to 10^5 strings in question/anchors")
    rubrics["rubric_utf16.yaml"] = (rub_ok.encode("utf-16"), R, "UTF-16 encoded rubric")
    for f, (txt, exp, why) in rubrics.items():
        w(f, txt)
        case(f, RATING, exp, why, SR + " (names the rubric file and key/criterion)", env=DB_ENV)
    w("rubric_merge_key.yaml", "defaults: &d\n  type: likert\n  points: 3\n  anchors: [Bad, OK, Good]\nname: r\ncriteria:\n  - id: a\n    question: A?\n    scale: *d\n")
    case("rubric_merge_key.yaml", RATING, C, "benign anchor reuse, but unknown top-level key `defaults`", S_CLEAN + "; an unknown-key refusal naming `defaults` is correct", env=DB_ENV)

    # ---------------- judgments exports (report / feedback) ----------------
    hdr = "study,item_id,physician,system_a,system_b,choice,evasive_a,evasive_b,rationale,seconds\n"
    row = lambda i, ch="a", ph="dr_a", r="ok": f"s1,q{i},{ph},sft,dpo,{ch},false,false,{r},30\n"
    rows_ok = "".join(row(i) for i in range(1, 6))
    judg = {
        "judg_empty.csv": (b"", R, "empty file"),
        "judg_header_only.csv": (hdr, R, "header, no rows"),
        "judg_bad_choice.csv": (hdr + rows_ok + row(6, ch="left"), R, "choice `left` (codes are a, b, tie, both_bad)"),
        "judg_ragged.csv": (hdr + rows_ok + "s1,q6,dr_a,sft\n", R, "short row"),
        "judg_unterminated_quote.csv": (hdr + rows_ok + 's1,q6,dr_a,sft,dpo,a,false,false,"never closed,30\n', R, "unterminated quote"),
        "judg_png.csv": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), R, "PNG bytes named .csv"),
        "judg_utf16.csv": ((hdr + rows_ok).encode("utf-16"), R, "UTF-16 CSV (Excel 'Unicode text')"),
        "judg_latin1.csv": ((hdr + rows_ok + row(6, r="tr\u00e8s bien")).encode("latin-1"), R, "Latin-1 rationale"),
        "judg_nul.csv": ((hdr + rows_ok).encode() + b"s1,q6,dr_a,sft,dpo,a,false,false,x\x00y,30\n", R, "NUL byte"),
        "judg_semicolon.csv": ((hdr + rows_ok).replace(",", ";"), R, "semicolon delimiter"),
        "judg_missing_columns.csv": ("item_id,choice\nq1,a\n", R, "only two columns"),
        "judg_duplicate_rows.csv": (hdr + rows_ok + row(1, ch="b"), R, "dr_a judged q1 twice with different choices"),
        "judg_same_system_both_sides.csv": (hdr + "s1,q1,dr_a,dpo,dpo,a,false,false,x,30\n", R, "system_a == system_b"),
        "judg_nan_seconds.csv": (hdr + rows_ok.replace(",30\n", ",NaN\n"), R, "seconds NaN"),
        "judg_negative_seconds.csv": (hdr + rows_ok.replace(",30\n", ",-5\n"), R, "negative time on task"),
        "judg_invisible_physician.csv": (hdr + rows_ok + row(1, ph="dr_\u200ba"), R, "physician 'dr_<ZWSP>a' vs 'dr_a' (same person, same item)"),
        "judg_truncated.jsonl": (jl({"item_id": "q1", "choice": "a"}) + '{"item_id": "q2", "cho', R, "truncated JSONL export"),
        "judg_dup_header.csv": (hdr.replace("rationale", "choice") + rows_ok, R, "header names `choice` twice"),
    }
    for f, (txt, exp, why) in judg.items():
        w(f, txt)
        case(f, REPORT, exp, why, S_REF + " (names the file, row and column)", no_output=["{tmp}/report"])
    for f in ["judg_bad_choice.csv", "judg_ragged.csv", "judg_utf16.csv", "judg_duplicate_rows.csv", "judg_empty.csv", "judg_png.csv"]:
        case(f, FEEDBACK, R, judg[f][2], S_REF + " (names the file, row and column)", no_output=["{tmp}/pairs"])
    w("judg_formula.csv", hdr + "".join(f's1,q{i},@dr_a,sft,dpo,a,false,false,"=1+1 +cmd -x @SUM(A1)",30\n' for i in range(1, 6)))
    case("judg_formula.csv", REPORT, C, "formula-looking rationale and physician", S_CLEAN + "; keep text verbatim; the report's judgments.csv must prefix it with '")
    w("judg_quoted_newline.csv", hdr + "".join(f's1,q{i},dr_a,sft,dpo,b,false,false,"line one\nline two, with comma",30\n' for i in range(1, 6)))
    case("judg_quoted_newline.csv", REPORT, C, "rationale with quoted newline and comma", S_CLEAN)
    w("judg_crlf.csv", (hdr + rows_ok).replace("\n", "\r\n"))
    case("judg_crlf.csv", REPORT, C, "CRLF line endings", S_CLEAN)
    w("judg_bom.csv", b"\xef\xbb\xbf" + (hdr + rows_ok).encode())
    case("judg_bom.csv", REPORT, C, "UTF-8 BOM (Excel 'CSV UTF-8')", S_CLEAN + "; the first column name must not become '\\ufeffstudy'")
    w("judg_long_field.csv", hdr + rows_ok + f's1,q6,dr_a,sft,dpo,a,false,false,"{"x" * (1024 * 1024)}",30\n')
    case("judg_long_field.csv", REPORT, C, "1 MB rationale field (above Python csv's default 128 KB field limit)", S_CLEAN + "; a csv field-limit error must not surface as a traceback")

    # ---------------- generations (report hq / eval score) ----------------
    g3 = jl(*[gen(i) for i in range(1, 4)])
    gens = {
        "gen_truncated.jsonl": (g3 + json.dumps(gen(4))[:50], "truncated last line"),
        "gen_missing_outputs.jsonl": (g3 + jl({"id": "q4", "question": "Q?"}), "line 4 without outputs"),
        "gen_nan.jsonl": (g3 + '{"id": "q4", "question": "Q?", "outputs": {"dpo": NaN}}\n', "NaN answer"),
        "gen_png.jsonl": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "PNG bytes"),
        "gen_empty.jsonl": (b"", "empty"),
        "gen_outputs_string.jsonl": (g3 + jl(gen(4, outputs="Yes.")), "outputs is a string"),
        "gen_duplicate_ids.jsonl": (g3 + jl(gen(1, outputs={"sft": "other", "dpo": "other"})), "id q1 twice with different answers"),
    }
    for f, (txt, why) in gens.items():
        w(f, txt)
        case(f, HQ, R, why, S_REF)
    for f in ["gen_truncated.jsonl", "gen_missing_outputs.jsonl", "gen_png.jsonl", "gen_empty.jsonl"]:
        case(f, SCORE, R, gens[f][1], S_REF + " (eval score's other options are not documented in the README; an argument error is also a clean refusal)")

    # ---------------- report compare --predictions / --ratings ----------------
    w("pred_truncated.jsonl", jl({"id": "t1", "prediction": "urgent"}) + '{"id": "t2", "predic')
    case("pred_truncated.jsonl", COMPARE, R, "truncated predictions file", S_REF, no_output=["{tmp}/compare"])
    w("pred_png.jsonl", b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    case("pred_png.jsonl", COMPARE, R, "PNG bytes as predictions", S_REF, no_output=["{tmp}/compare"])
    w("ratings_bad_value.csv", "study,item_id,physician,system,criterion,value\ngrades,q1,dr_a,sft,quality,7\ngrades,q1,dr_a,dpo,quality,banana\n")
    case("ratings_bad_value.csv", COMPARE_R, R, "rating 7 on a 1-5 scale and a non-numeric rating", S_REF, no_output=["{tmp}/compare"])

    # ---------------- tasks show PATH ----------------
    task_ok = ("name: mytask\ntemplate: \"### Question:\\n{question}\\n\\n### Answer:\\n\"\nlabels: [yes, no, maybe]\nmetrics: [accuracy]\n")
    tasks = {
        "task_empty.yaml": ("", "empty task file"),
        "task_tabs.yaml": ("name: mytask\nlabels:\n\t- yes\n\t- no\n", "tab indentation"),
        "task_unknown_key.yaml": (task_ok + "publsihed: {accuracy: 0.9}\n", "misspelled key"),
        "task_template_no_placeholder.yaml": (task_ok.replace("{question}", "nothing"), "template without placeholder"),
        "task_labels_string.yaml": (task_ok.replace("[yes, no, maybe]", "yes"), "labels is a string"),
        "task_labels_dup.yaml": (task_ok.replace("[yes, no, maybe]", "[yes, no, \"yes\"]"), "duplicate labels"),
        "task_norway.yaml": (task_ok.replace("[yes, no, maybe]", "[yes, no, off]"), "YAML 1.1 booleans: yes/no/off load as true/false"),
        "task_unknown_metric.yaml": (task_ok.replace("[accuracy]", "[accuracy, vibes]"), "unknown metric `vibes`"),
        "task_python_tag.yaml": ("name: !!python/object/apply:os.system [\"echo MEDALIGN_PWNED\"]\n", "python tag (never execute)"),
        "task_list_top.yaml": ("- name: mytask\n", "top level is a list"),
        "task_latin1.yaml": (("name: t\u00e2che\n" + task_ok[13:]).encode("latin-1"), "Latin-1 bytes"),
    }
    la = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for k in range(1, 5):
        la.append(f"l{k}: &l{k} [" + ",".join([f"*l{k-1}"] * 10) + "]")
    tasks["task_billion_laughs.yaml"] = ("\n".join(la) + "\nname: mytask\nlabels: *l4\n", "aliases expanding to 10^5 labels")
    for f, (txt, why) in tasks.items():
        w(f, txt)
        case(f, TASKS, R, why, S_REF + " (names the task file and key)")

    # ---------------- training recipes ----------------
    sft_ok = ("model_name_or_path: runs/tiny/model\noutput_dir: runs/tiny/sft\n"
              "data:\n  train: runs/tiny/data/train.jsonl\n"
              "lora:\n  r: 8\n  alpha: 16\n  dropout: 0.1\n"
              "training:\n  num_train_epochs: 1\n  per_device_train_batch_size: 4\n  learning_rate: 2.0e-5\n  logging_steps: 1\n  save_steps: 0\n  eval_fraction: 0.0\n")
    dpo_ok = sft_ok.replace("output_dir: runs/tiny/sft", "output_dir: runs/tiny/dpo") + "dpo:\n  beta: 0.01\n  loss_type: sigmoid\n"
    recipes = {
        "recipe_unknown_key.yaml": (SFT, sft_ok + "  learnig_rate: 1.0e-4\n", "misspelled training key `learnig_rate`"),
        "recipe_unknown_section.yaml": (SFT, sft_ok + "trainng:\n  max_steps: 3\n", "misspelled section `trainng`"),
        "recipe_lr_string.yaml": (SFT, sft_ok.replace("learning_rate: 2.0e-5", "learning_rate: fast"), "learning_rate is a word"),
        "recipe_lr_yaml11_float.yaml": (SFT, sft_ok.replace("learning_rate: 2.0e-5", "learning_rate: 2e-5"), "2e-5 is a STRING in YAML 1.1 (PyYAML)"),
        "recipe_negative_epochs.yaml": (SFT, sft_ok.replace("num_train_epochs: 1", "num_train_epochs: -3"), "negative epochs"),
        "recipe_inf_lr.yaml": (SFT, sft_ok.replace("learning_rate: 2.0e-5", "learning_rate: .inf"), "learning_rate infinite"),
        "recipe_huge_steps.yaml": (SFT, sft_ok + "  max_steps: " + "9" * 5000 + "\n", "5000-digit max_steps"),
        "recipe_lora_r_zero.yaml": (SFT, sft_ok.replace("r: 8", "r: 0"), "LoRA rank 0"),
        "recipe_eval_fraction.yaml": (SFT, sft_ok.replace("eval_fraction: 0.0", "eval_fraction: 1.5"), "eval_fraction 1.5"),
        "recipe_batch_float.yaml": (SFT, sft_ok.replace("per_device_train_batch_size: 4", "per_device_train_batch_size: 2.5"), "fractional batch size"),
        "recipe_bool_as_number.yaml": (SFT, sft_ok.replace("logging_steps: 1", "logging_steps: true"), "logging_steps: true (bool is an int in Python)"),
        "recipe_tabs.yaml": (SFT, sft_ok.replace("  r: 8", "\tr: 8"), "tab indentation"),
        "recipe_empty.yaml": (SFT, "", "empty recipe"),
        "recipe_list_top.yaml": (SFT, "- model_name_or_path: x\n", "top level is a list"),
        "recipe_dup_keys.yaml": (SFT, sft_ok + "lora:\n  r: 64\n", "section `lora` given twice"),
        "recipe_python_tag.yaml": (SFT, "model_name_or_path: !!python/object/apply:os.system [\"echo MEDALIGN_PWNED\"]\n", "python tag (never execute)"),
        "recipe_utf16.yaml": (SFT, sft_ok.encode("utf-16"), "UTF-16 recipe"),
        "recipe_deep.yaml": (SFT, "model_name_or_path: " + "[" * 10000 + "]" * 10000 + "\n", "nested 10000 deep"),
        "recipe_dpo_nan_beta.yaml": (DPO, dpo_ok.replace("beta: 0.01", "beta: .nan"), "DPO beta NaN"),
        "recipe_dpo_negative_beta.yaml": (DPO, dpo_ok.replace("beta: 0.01", "beta: -1"), "DPO beta negative"),
        "recipe_dpo_bad_loss.yaml": (DPO, dpo_ok.replace("loss_type: sigmoid", "loss_type: vibes"), "unknown DPO loss type"),
        "recipe_dpo_quant_storage.yaml": (DPO, dpo_ok + "quantization:\n  load_in_4bit: true\n  quant_storage: float128\n", "quant_storage float128"),
    }
    la = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for k in range(1, 5):
        la.append(f"l{k}: &l{k} [" + ",".join([f"*l{k-1}"] * 10) + "]")
    recipes["recipe_billion_laughs.yaml"] = (SFT, "\n".join(la) + "\n" + sft_ok, "aliases expanding to 10^5 strings (unknown keys l0..l4 too)")
    for f, (argv, txt, why) in recipes.items():
        w(f, txt)
        case(f, argv, R, why, S_REF + " (names the recipe file and key, before any model is loaded)", no_output=["{tmp}/run"])
    case("pq_png.jsonl", DPO_PAIRS, R, "PNG file given as --pairs", S_REF, no_output=["{tmp}/run"])
    case("pq_directory.jsonl", SFT, R, "directory given as --config", S_REF, no_output=["{tmp}/run"])

    # ---------------- outputs ----------------
    for c in CASES:
        assert (HERE.parent.parent.parent / c["file"]).exists() or os.path.islink(HERE.parent.parent.parent / c["file"]) \
            or "does_not_exist" in c["file"], c["file"]
    (HERE / "cases.json").write_text(json.dumps(CASES, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    write_readme()
    print(len(CASES), "cases,", len({c['file'] for c in CASES}), "files")


def _xlsx(path, rows):
    """Minimal valid .xlsx (inline strings), standard library only."""
    def col(i):
        return chr(ord("A") + i)
    sheet_rows = []
    for r, vals in enumerate(rows, 1):
        cells = "".join(f'<c r="{col(c)}{r}" t="inlineStr"><is><t>{v}</t></is></c>' for c, v in enumerate(vals))
        sheet_rows.append(f'<row r="{r}">{cells}</row>')
    files = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>' + "".join(sheet_rows) + "</sheetData></worksheet>",
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            zi = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            z.writestr(zi, data)


def write_readme():
    lines = [
        "# Independent bad-input corpus",
        "",
        "Written from `README.md` and `SECURITY.md` only, by someone who has not read the source code.",
        "File formats and column names that the README does not spell out (judgment exports, rating",
        "exports, predictions, task files, training recipes, rubrics) are **guesses**: for those, a",
        "refusal may come from a guessed name rather than from the damage the case was built for; the",
        "test still holds the tool to a clean refusal. Regenerate everything with",
        "`python tests/corpus/independent/gen_corpus.py` (standard library only, deterministic;",
        "`pq_long_line.jsonl` and `ans_huge_answer.jsonl` are ~5 MB each and come from it).",
        "",
        "How to run a case (`cases.json` holds the same rows for a test to run mechanically):",
        "",
        "- run from the repository root; `{file}` is the case's file (a path relative to the root),",
        "  `{tmp}` a fresh empty scratch folder (absolute path) per case;",
        "- `env` (if present) is added to the environment with `{tmp}` filled in: the study commands",
        "  use `MEDALIGN_DATABASE_URL=sqlite:///{tmp}/medalign.db` so each case gets its own database;",
        "- `expect`: `refuse` = non-zero exit (2 where the README says so), a message on stderr that",
        "  names the file (and line/record and field where it makes sense), no `Traceback` anywhere",
        "  in stdout/stderr, and nothing half-written (every path in `no_output` absent afterwards; for",
        "  study commands no study in the database: `medalign study show NAME` fails);",
        "  `clean` = exit 0 or a refusal as above, but never a traceback (the row says which is better);",
        "  `accept` = controls that must succeed, so that refusals elsewhere are for the intended reason;",
        "- `MEDALIGN_PWNED` must never appear in any output (YAML `!!python` tags).",
        "",
        "| file | command to run | what a correct tool should do |",
        "| --- | --- | --- |",
    ]
    for c in CASES:
        f = c["file"].split("/")[-1] if not c["file"].startswith(f"{REL}/_ok") else c["file"][len(REL) + 1:]
        cmd = " ".join(a if " " not in a else f"'{a}'" for a in c["argv"])
        if c.get("env"):
            cmd = " ".join(f"{k}={v}" for k, v in c["env"].items()) + " " + cmd
        lines.append(f"| `{f}` | `{cmd}` | **{c['expect']}**: {c['why']}. {c['should']} |")
    lines.append("")
    (HERE / "README.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
