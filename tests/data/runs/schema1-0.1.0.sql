BEGIN TRANSACTION;
CREATE TABLE cells (
    problem_id TEXT NOT NULL, sample_index INTEGER NOT NULL, cell_index INTEGER NOT NULL,
    turn_index INTEGER NOT NULL, code TEXT NOT NULL, output TEXT NOT NULL, status TEXT NOT NULL,
    duration_s REAL NOT NULL, cpu_s REAL NOT NULL,
    PRIMARY KEY (problem_id, sample_index, cell_index)
);
INSERT INTO "cells" VALUES('test/algebra/10.json',0,0,0,'# Step 1: Calculate 120% of 30
percentage_1 = 120
value_1 = 30
result_1 = (percentage_1 / 100) * value_1
result_1','36.0
','ok',2.90348859998630359768e-02,0.0);
INSERT INTO "cells" VALUES('test/algebra/10.json',0,1,1,'# Step 2: Calculate 130% of 20
percentage_2 = 130
value_2 = 20
result_2 = (percentage_2 / 100) * value_2
result_2','26.0
','ok',4.96194699917396064847e-03,0.0);
INSERT INTO "cells" VALUES('test/algebra/10.json',0,2,2,'# Step 3: Find the positive difference between the two values
positive_difference = abs(result_1 - result_2)
positive_difference','10.0
','ok',9.23263000004226341843e-03,0.0);
INSERT INTO "cells" VALUES('test/algebra/1009.json',0,0,0,'# Given values
a1 = 6  # first term
d = 4  # common difference
n = 100  # position in the sequence

# Calculate the 100th term using the formula
a_n = a1 + (n - 1) * d
a_n','402
','ok',3.88522799948987085372e-03,1.54804400000000015602e-03);
CREATE TABLE failures (
    problem_id TEXT NOT NULL, sample_index INTEGER NOT NULL, error TEXT NOT NULL,
    failed_at REAL NOT NULL
);
INSERT INTO "failures" VALUES('test/algebra/1019.json',0,'ModelConnectionError: HTTP 500 from http://127.0.0.1:9/v1',1796196700.0);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('schema_version','1');
INSERT INTO "meta" VALUES('config','{"dataset": "math", "model": "replay:@TRANSCRIPTS@/mathcoder/MathCoder-L-7b/MATH", "strategy": "csv", "samples": 1, "weights": "1,0.5,0.2", "tool_style": null, "temperature": 0.7, "top_p": 0.95, "max_tokens": 2048, "seed": 0, "max_code": 10, "revise": 0, "enforce_code_rule": false, "adaptive": null, "wave": 2, "threshold": 0.02, "limit": 12, "subject": [], "level": [], "ids": null, "shuffle": false, "timeout": 10.0, "memory_mb": 2048, "max_output": 4000, "problem_count": 12}');
INSERT INTO "meta" VALUES('versions','{"python": "3.11.7", "verimath": "0.1.0", "sympy": "1.14.0", "numpy": "2.4.6", "scipy": "1.17.1", "math-verify": "0.9.0", "latex2sympy2_extended": "1.11.0", "openai": "3.57.0", "llama_cpp_python": "0.3.36", "git_revision": "b13a7bb18d45e6e4f7aba2d7bab7d87f0a94ae1e"}');
INSERT INTO "meta" VALUES('created_at','1796196733.2568452');
CREATE TABLE problems (
    problem_id TEXT PRIMARY KEY, position INTEGER NOT NULL, question TEXT NOT NULL,
    gold TEXT NOT NULL, dataset TEXT NOT NULL, subject TEXT, level INTEGER, meta TEXT
);
INSERT INTO "problems" VALUES('test/algebra/10.json',0,'What is the positive difference between $120\%$ of 30 and $130\%$ of 20?','10','math','Algebra',1,'{"idx": 1}');
INSERT INTO "problems" VALUES('test/algebra/1009.json',1,'What is the 100th term of the arithmetic sequence 6, 10, 14, 18, ...?','402','math','Algebra',2,'{"idx": 5}');
INSERT INTO "problems" VALUES('test/algebra/1019.json',2,'What is the smallest value of $x$ such that $|5x - 1| = |3x + 2|$? Express your answer as a common fraction.','-\frac{1}{8}','math','Algebra',5,'{"idx": 9}');
CREATE TABLE responses (
    request_key TEXT PRIMARY KEY, request BLOB NOT NULL, response BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE samples (
    problem_id TEXT NOT NULL, sample_index INTEGER NOT NULL, answer TEXT, answer_method TEXT,
    state TEXT NOT NULL, evidence TEXT, grade TEXT NOT NULL, code_executions INTEGER NOT NULL,
    code_refusals INTEGER NOT NULL, rule_violations INTEGER NOT NULL, revisions INTEGER NOT NULL,
    stop_reason TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
    cost_usd REAL, duration_s REAL NOT NULL, messages TEXT NOT NULL, finished_at REAL NOT NULL,
    PRIMARY KEY (problem_id, sample_index)
);
INSERT INTO "samples" VALUES('test/algebra/10.json',0,'10','boxed','Uncertain','["no check after a candidate answer", "state Uncertain"]','correct',3,0,0,0,'answer',0,0,0.0,8.98220330000185640528e-02,'[{"role": "system", "content": "To run Python code, write it in a ```python code block and stop; the code runs in a stateful interpreter (variables persist between blocks) and its output comes back to you in a ```output block."}, {"role": "user", "content": "To solve the problem using code interpreter step by step, and please verify your answer using code interpreter. Please put your answer in \\boxed{}. The problem is: What is the positive difference between $120\\%$ of 30 and $130\\%$ of 20?."}, {"role": "assistant", "content": "To find the positive difference between \\(120\\%\\) of 30 and \\(130\\%\\) of 20, we can follow these steps:\n\n1. Calculate \\(120\\%\\) of 30.\n2. Calculate \\(130\\%\\) of 20.\n3. Find the positive difference between the two values obtained in steps 1 and 2.\n\nLet''s start with the first step.\n\n```python\n# Step 1: Calculate 120% of 30\npercentage_1 = 120\nvalue_1 = 30\nresult_1 = (percentage_1 / 100) * value_1\nresult_1\n```"}, {"role": "user", "content": "```output\n36.0\n\n```"}, {"role": "assistant", "content": "The value of \\(120\\%\\) of 30 is 36.\n\nNow, let''s move on to the second step and calculate \\(130\\%\\) of 20.\n\n```python\n# Step 2: Calculate 130% of 20\npercentage_2 = 130\nvalue_2 = 20\nresult_2 = (percentage_2 / 100) * value_2\nresult_2\n```"}, {"role": "user", "content": "```output\n26.0\n\n```"}, {"role": "assistant", "content": "The value of \\(130\\%\\) of 20 is 26.\n\nFinally, let''s find the positive difference between these two values.\n\n```python\n# Step 3: Find the positive difference between the two values\npositive_difference = abs(result_1 - result_2)\npositive_difference\n```"}, {"role": "user", "content": "```output\n10.0\n\n```"}, {"role": "assistant", "content": "The positive difference between \\(120\\%\\) of 30 and \\(130\\%\\) of 20 is \\(\\boxed{10}\\).\n\n10"}]',1.79619674008748650547e+09);
INSERT INTO "samples" VALUES('test/algebra/1009.json',0,'402','boxed','Uncertain','["no check after a candidate answer", "state Uncertain"]','correct',1,0,0,0,'answer',0,0,0.0,1.14941153000472695566e-01,'[{"role": "system", "content": "To run Python code, write it in a ```python code block and stop; the code runs in a stateful interpreter (variables persist between blocks) and its output comes back to you in a ```output block."}, {"role": "user", "content": "To solve the problem using code interpreter step by step, and please verify your answer using code interpreter. Please put your answer in \\boxed{}. The problem is: What is the 100th term of the arithmetic sequence 6, 10, 14, 18, ...?."}, {"role": "assistant", "content": "To find the 100th term of an arithmetic sequence, we can use the formula:\n\n\\[\na_n = a_1 + (n - 1) \\times d\n\\]\n\nWhere:\n- \\( a_n \\) is the \\( n \\)-th term\n- \\( a_1 \\) is the first term\n- \\( d \\) is the common difference\n- \\( n \\) is the position in the sequence\n\nFor this problem:\n- \\( a_1 = 6 \\) (the first term)\n- \\( d = 10 - 6 = 4 \\) (the common difference)\n- \\( n = 100 \\) (we want the 100th term)\n\nLet''s plug these into the formula to find \\( a_{100} \\).\n\n```python\n# Given values\na1 = 6  # first term\nd = 4  # common difference\nn = 100  # position in the sequence\n\n# Calculate the 100th term using the formula\na_n = a1 + (n - 1) * d\na_n\n```"}, {"role": "user", "content": "```output\n402\n\n```"}, {"role": "assistant", "content": "The 100th term of the arithmetic sequence is \\( \\boxed{402} \\).\n\n402"}]',1.79619674010439825057e+09);
CREATE TABLE turns (
    problem_id TEXT NOT NULL, sample_index INTEGER NOT NULL, turn_index INTEGER NOT NULL,
    content TEXT NOT NULL, tool_calls TEXT, finish_reason TEXT, prompt_tokens INTEGER,
    completion_tokens INTEGER, cost_usd REAL, latency_s REAL,
    PRIMARY KEY (problem_id, sample_index, turn_index)
);
INSERT INTO "turns" VALUES('test/algebra/10.json',0,0,'To find the positive difference between \(120\%\) of 30 and \(130\%\) of 20, we can follow these steps:

1. Calculate \(120\%\) of 30.
2. Calculate \(130\%\) of 20.
3. Find the positive difference between the two values obtained in steps 1 and 2.

Let''s start with the first step.

```python
# Step 1: Calculate 120% of 30
percentage_1 = 120
value_1 = 30
result_1 = (percentage_1 / 100) * value_1
result_1
```',NULL,'stop',0,0,0.0,1.72805200054426677525e-03);
INSERT INTO "turns" VALUES('test/algebra/10.json',0,1,'The value of \(120\%\) of 30 is 36.

Now, let''s move on to the second step and calculate \(130\%\) of 20.

```python
# Step 2: Calculate 130% of 20
percentage_2 = 130
value_2 = 20
result_2 = (percentage_2 / 100) * value_2
result_2
```',NULL,'stop',0,0,0.0,1.17501000204356387257e-04);
INSERT INTO "turns" VALUES('test/algebra/10.json',0,2,'The value of \(130\%\) of 20 is 26.

Finally, let''s find the positive difference between these two values.

```python
# Step 3: Find the positive difference between the two values
positive_difference = abs(result_1 - result_2)
positive_difference
```',NULL,'stop',0,0,0.0,1.07210998976370319724e-04);
INSERT INTO "turns" VALUES('test/algebra/10.json',0,3,'The positive difference between \(120\%\) of 30 and \(130\%\) of 20 is \(\boxed{10}\).

10',NULL,'stop',0,0,0.0,1.43299001138075254857e-04);
INSERT INTO "turns" VALUES('test/algebra/1009.json',0,0,'To find the 100th term of an arithmetic sequence, we can use the formula:

\[
a_n = a_1 + (n - 1) \times d
\]

Where:
- \( a_n \) is the \( n \)-th term
- \( a_1 \) is the first term
- \( d \) is the common difference
- \( n \) is the position in the sequence

For this problem:
- \( a_1 = 6 \) (the first term)
- \( d = 10 - 6 = 4 \) (the common difference)
- \( n = 100 \) (we want the 100th term)

Let''s plug these into the formula to find \( a_{100} \).

```python
# Given values
a1 = 6  # first term
d = 4  # common difference
n = 100  # position in the sequence

# Calculate the 100th term using the formula
a_n = a1 + (n - 1) * d
a_n
```',NULL,'stop',0,0,0.0,1.26237800031958613544e-03);
INSERT INTO "turns" VALUES('test/algebra/1009.json',0,1,'The 100th term of the arithmetic sequence is \( \boxed{402} \).

402',NULL,'stop',0,0,0.0,8.54410009196726605296e-05);
CREATE TABLE votes (
    problem_id TEXT PRIMARY KEY, answer TEXT, grade TEXT NOT NULL, plain_answer TEXT,
    plain_grade TEXT NOT NULL, samples_used INTEGER NOT NULL, classes TEXT NOT NULL
);
INSERT INTO "votes" VALUES('test/algebra/10.json','10','correct','10','correct',1,'[{"answer": "10", "score": 0.5, "true": 0, "uncertain": 1, "false": 0, "samples": [0]}]');
INSERT INTO "votes" VALUES('test/algebra/1009.json','402','correct','402','correct',1,'[{"answer": "402", "score": 0.5, "true": 0, "uncertain": 1, "false": 0, "samples": [0]}]');
COMMIT;
