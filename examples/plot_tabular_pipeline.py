"""
A tabular pipeline in a notebook: which voters' rows made the model get one voter wrong?
=========================================================================================

The everyday tabular workflow: a DataFrame with numeric and categorical columns and missing
values, a ``ColumnTransformer`` that imputes, scales and one-hot encodes it, a logistic
regression tuned by ``GridSearchCV``. On one wrong prediction we ask which training rows
pushed the model there, answer in the DataFrame's own row labels and raw columns, and check
the answers against refits of the *whole* pipeline, the way a user would refit it.

The data are the 1996 American National Election Study bundled with statsmodels (944
respondents, no download): the expected vote (Clinton or Dole), party identification and
education (categories), and age, household income, TV news per week, the log population
of the respondent's town and three left-right placements (numbers). The survey has no
missing values, so about 10 % are removed at random from ``age`` and ``income``.

Usage: ``python examples/plot_tabular_pipeline.py [--small]`` (``--small``: fewer refits
in the validations). Needs pandas and statsmodels (``pip install "sklearn_influence[docs]"``).
"""

import argparse

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from statsmodels.datasets import anes96

from sklearn_influence import (
    InfluenceEstimator,
    LeaveOneOutDisplay,
    TopInfluencesDisplay,
    validate_leave_one_out,
)

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", help="fewer refits in the validations (a smoke run)")
args = parser.parse_args()
n_top, n_random = (10, 5) if args.small else (20, 10)  # rows refitted by each validation
pd.set_option("display.width", 120)

# %%
# The data
# --------
# One row per respondent, labelled by the survey's own respondent number. Categories are
# spelled out as strings, as they usually arrive in a DataFrame.
survey = anes96.load_pandas().data
party = ["strong Dem", "weak Dem", "indep-Dem", "indep", "indep-Rep", "weak Rep", "strong Rep"]
education = ["grade school", "some high school", "high school", "some college", "college", "master's", "PhD"]
voters = pd.DataFrame(
    {
        "age": survey["age"],
        "income": survey["income"],  # household income bracket, 1 (< $3k) to 24 (> $105k)
        "tv": survey["TVnews"],  # days a week the respondent watches TV news
        "log_town": survey["logpopul"],  # log of the town's population in thousands
        "self_lr": survey["selfLR"],  # 1 extremely liberal ... 7 extremely conservative
        "clin_lr": survey["ClinLR"],  # where the respondent places Clinton, same scale
        "dole_lr": survey["DoleLR"],  # ... and Dole
        "party": np.asarray(party, dtype=object)[survey["PID"].astype(int)],
        "education": np.asarray(education, dtype=object)[survey["educ"].astype(int) - 1],
    }
)
voters.index.name = "respondent"
vote = np.where(survey["vote"] == 1, "Dole", "Clinton")
rng = np.random.default_rng(0)
for column in ("age", "income"):  # the survey is complete: make ~10 % of these two missing
    voters.loc[rng.random(len(voters)) < 0.10, column] = np.nan
print(
    f"{len(voters)} respondents; missing: "
    + ", ".join(f"{c} {voters[c].isna().mean():.1%}" for c in ("age", "income"))
)

X_train, X_test, y_train, y_test = train_test_split(
    voters, vote, test_size=0.25, stratify=vote, random_state=0
)
print(
    f"{len(X_train)} training rows, {len(X_test)} test rows; training index starts {X_train.index[:5].tolist()}"
)

# %%
# The pipeline, tuned by cross-validation
# ---------------------------------------
# Numbers are imputed with their mean and standardised, categories one-hot encoded (a test
# category never seen in training is ignored). The logistic regression is fitted with
# Newton's method to a tight tolerance: influence functions assume the fit is stationary.
numeric = ["age", "income", "tv", "log_town", "self_lr", "clin_lr", "dole_lr"]
categorical = ["party", "education"]
pipeline = Pipeline(
    [
        (
            "prep",
            ColumnTransformer(
                [
                    ("num", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), numeric),
                    ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
                ]
            ),
        ),
        ("model", LogisticRegression(solver="newton-cholesky", tol=1e-10, max_iter=1000)),
    ]
)
search = GridSearchCV(pipeline, {"model__C": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]}, scoring="neg_log_loss", cv=5)

# %%
# Influence of the whole pipeline
# -------------------------------
# ``InfluenceEstimator`` wraps the search itself: ``fit`` runs it and analyses the pipeline
# it refitted on all training rows with the best ``C`` (held fixed: a refit without a row
# keeps the chosen hyper-parameters). ``preprocessing="refit"`` (the default) makes every
# answer about refitting the *whole* pipeline: without a row, the imputer's means and the
# scaler's means and scales move too, and with them every row's features, the query's
# included. ``set_output(transform="pandas")`` labels the results with the DataFrame's own
# index.
inf = InfluenceEstimator(search, preprocessing="refit").fit(X_train, y_train)
inf.set_output(transform="pandas")
best = inf.estimator_.best_estimator_  # the fitted pipeline; clone(best) refits it with the best C
print(f"best C = {inf.estimator_.best_params_['model__C']}, cross-validated log-loss {-inf.estimator_.best_score_:.3f}")
print(f"test accuracy {inf.score(X_test, y_test):.3f}; {len(inf.param_names_)} parameters")

# %%
# The query: the wrong prediction with the largest test loss
# ----------------------------------------------------------
test_loss = inf.loss(X_test, y_test)  # −log p(true vote), in nats
wrong = np.flatnonzero(inf.predict(X_test) != y_test)
j = wrong[np.argmax(test_loss[wrong])]
X_query, y_query = X_test.iloc[[j]], y_test[[j]]
query = X_query.index[0]
print(
    f"respondent {query} says {y_query[0]}; the model gives that p = {np.exp(-test_loss[j]):.3f} "
    f"({test_loss[j]:.2f} nats) and predicts {inf.predict(X_query)[0]}"
)
print(X_query.round({"log_town": 2}).to_string())

# %%
# The training rows behind it
# ---------------------------
# ``top_influences`` ranks the training rows by ``influence`` (``−n g_qᵀ H⁻¹ g_i``, a rate:
# positive = up-weighting the row raises the query's loss, harmful). With pandas output it
# also returns their labels, so the raw rows come straight from ``X_train.loc``. Next to
# them, ``drop``: Newton leave-one-out, the predicted change of the query's loss in nats if
# the row is dropped and the whole pipeline refitted (positive = the row was helpful).
# A harmful row need not be a Clinton voter: it is one whose weight pushes the fitted
# parameters in a direction that makes this respondent's vote less likely.
k = 5
top = inf.top_influences(X_query, y_query, k=k)
newton = inf.leave_one_out(X_query, y_query, method="newton")  # DataFrame: query × training labels
influence = inf.influence(X_query, y_query)
vote_of = pd.Series(y_train, index=X_train.index)


def raw_rows(labels):
    rows = X_train.loc[labels].copy()
    rows.insert(0, "vote", vote_of[labels])
    rows.insert(0, "drop", newton.loc[query, labels].round(3))
    rows.insert(0, "influence", influence.loc[query, labels].round(1))
    return rows.round({"log_town": 2}).rename_axis(None)  # the index: respondent numbers


harmful_labels, helpful_labels = top.harmful_labels.loc[query], top.helpful_labels.loc[query]
print(f"most harmful training respondents for respondent {query}:")
print(raw_rows(harmful_labels).to_string())
print(f"\nmost helpful training respondents for respondent {query}:")
print(raw_rows(helpful_labels).to_string())

# %%
# The same ranking as a bar plot, labelled with the respondent numbers.
try:
    import matplotlib.pyplot as plt
except ImportError:  # matplotlib is optional: pip install "sklearn_influence[plot]"
    plt = None
if plt is not None:
    display = TopInfluencesDisplay.from_estimator(inf, X_query, y_query, k=k)
    display.ax_.set_title(f"Training respondents behind the error on respondent {query}")
    plt.show()

# %%
# Which raw columns of those rows matter?
# ---------------------------------------
# ``perturbation_influence`` (raw columns by default for a pipeline) differentiates the
# query's loss with respect to each raw value of a training row, through the imputer and
# scaler and, under ``"refit"``, through the statistics those values move. Divided by n it
# is d(query loss)/d(value) in nats per unit of the column; times the column's standard
# deviation, per standard deviation, so the columns compare. Categorical columns have no
# derivative (NaN) and are left out; a missing value has none either. Each entry is, to
# first order, how much the query's loss would move if that one value were one standard
# deviation larger: compare it with ``drop`` above, the effect of removing the whole row.
n = len(X_train)
selected = np.concatenate([top.harmful_indices[0], top.helpful_indices[0]])  # positions
per_unit = inf.perturbation_influence(X_query, y_query, indices=selected)[0] / n
raw_answer = pd.DataFrame(per_unit, index=X_train.index[selected], columns=X_train.columns)[numeric]
per_sd = raw_answer * X_train[numeric].std()
print("d(query loss)/d(value) × column std, in nats (> 0: a larger value raises the query's loss):")
print(per_sd.map(lambda v: f"{v:+.4f}").to_string())
strongest = per_sd.abs().idxmax(axis=1).value_counts()
print(
    "the column that matters most, counted over these rows: "
    + ", ".join(f"{c} {m}" for c, m in strongest.items())
)

# %%
# Check the largest entry by moving that one raw value a little both ways and refitting the
# whole pipeline each time (a central finite difference).
position, column = np.unravel_index(np.nanargmax(np.abs(per_sd.to_numpy())), per_sd.shape)
row, column = selected[position], numeric[column]
step = 0.01 * X_train[column].std()
losses = []
for sign in (1, -1):
    moved = X_train.copy()
    moved.iloc[row, moved.columns.get_loc(column)] += sign * step
    refit = clone(best).fit(moved, y_train)
    losses.append(-np.log(refit.predict_proba(X_query)[0, list(refit.classes_).index(y_query[0])]))
print(f"d(query loss)/d({column} of respondent {X_train.index[row]}), nats per unit:")
print(
    f"  predicted {raw_answer.iloc[position][column]:+.4e}, refits {(losses[0] - losses[1]) / (2 * step):+.4e}"
)

# %%
# A categorical column has no derivative; the question is discrete: how would the query's
# loss move if one of these respondents had another party identification?
# ``category_influence`` answers with one Newton step on the replaced row (in nats, like
# leave-one-out). We check the largest answer by refitting the whole pipeline with it.
by_party = inf.category_influence(X_query, y_query, "party", indices=selected)
changes = pd.DataFrame(by_party.changes[0], index=X_train.index[selected], columns=by_party.categories)
print("change of the query's loss (nats) if the respondent had this party identification:")
print(changes.to_string(float_format=lambda v: f"{v:+.4f}"))
position, category = np.unravel_index(np.argmax(np.abs(changes.to_numpy())), changes.shape)
moved = X_train.copy()
moved.iloc[selected[position], moved.columns.get_loc("party")] = by_party.categories[category]
refit = clone(best).fit(moved, y_train)
refit_loss = -np.log(refit.predict_proba(X_query)[0, list(refit.classes_).index(y_query[0])])
print(
    f"respondent {changes.index[position]} as {by_party.categories[category]!r}: predicted "
    f"{changes.iloc[position, category]:+.5f}, refit {refit_loss - test_loss[j]:+.5f} nats"
)

# %%
# Validation against refits of the whole pipeline
# ------------------------------------------------
# ``validate_leave_one_out`` drops each of the rows with the largest predicted effect (and a
# few random ones), refits and compares. Under ``"refit"`` it refits the whole pipeline.
check = validate_leave_one_out(
    inf, X_train, y_train, X_query, y_query, n_top=n_top, n_random=n_random, random_state=0
)
error = np.abs(check.predicted - check.actual).max() / np.abs(check.actual).max()
print(
    f'"refit" vs {len(check.rows)} whole-pipeline refits: Pearson {check.pearson:.4f}, '
    f"slope {check.slope:.3f}, max error {error:.1%} of the largest change"
)

# %%
# ``preprocessing="fixed"`` answers a narrower question: the fitted imputer and scaler are
# part of the data and only the logistic regression is refit. Its own validation refits
# only that last step.
fixed = InfluenceEstimator(clone(best), preprocessing="fixed").fit(X_train, y_train)
check_fixed = validate_leave_one_out(
    fixed, X_train, y_train, X_query, y_query, n_top=n_top, n_random=n_random, random_state=0
)
error = np.abs(check_fixed.predicted - check_fixed.actual).max() / np.abs(check_fixed.actual).max()
print(
    f'"fixed" vs {len(check_fixed.rows)} last-step refits: Pearson {check_fixed.pearson:.4f}, '
    f"slope {check_fixed.slope:.3f}, max error {error:.1%} of the largest change"
)

# %%
# Against the refits of the whole pipeline, the question a user asks when dropping a row,
# the fixed answer on the same rows as the first validation. Most of either answer's error
# is the Newton step's own, which the fixed answer has against its own last-step refits too
# (the query's loss is far from linear in the parameters). The two answers differ by the
# transformers' share of each change, printed last.
fixed_newton = np.asarray(fixed.leave_one_out(X_query, y_query, method="newton"))[0]
refit_newton = newton.loc[query].to_numpy()
predicted = fixed_newton[check.rows]
pearson = np.corrcoef(predicted, check.actual)[0, 1]
slope = predicted @ check.actual / (predicted @ predicted)  # least squares through the origin
error = np.abs(predicted - check.actual).max() / np.abs(check.actual).max()
print(
    f'"fixed" vs the same {len(check.rows)} whole-pipeline refits: Pearson {pearson:.4f}, '
    f"slope {slope:.3f}, max error {error:.1%} of the largest change"
)
share = np.abs(refit_newton - fixed_newton)
print(f"largest |refit answer - fixed answer| over all {n} training rows: {share.max():.1e} nats")
print(f"largest |refit answer| over all {n} training rows: {np.abs(refit_newton).max():.1e} nats")

# %%
# With 708 rows, one row moves the imputer's means and the scaler's means and scales very
# little, so on this query the transformers' share is small next to the largest changes.
# It is not small for every row. By hand, for the rows where the two answers differ most:
# drop the row, refit a clone of the whole pipeline and, separately, only the logistic
# regression on the fixed features, and compare the query's loss change (nats) with both
# answers. Each answer matches its own refit; the fixed answer misses the whole-pipeline
# refit by the transformers' share.
base = inf.loss(X_query, y_query)[0]
features = best[:-1]  # the fitted ColumnTransformer
differ = np.argsort(-share)[: 4 if args.small else 8]
rows = []
for position in differ:
    keep = np.arange(n) != position
    whole = clone(best).fit(X_train[keep], y_train[keep])
    last = clone(best[-1]).fit(features.transform(X_train[keep]), y_train[keep])
    true_class = list(whole.classes_).index(y_query[0])
    rows.append(
        {
            "whole refit": -np.log(whole.predict_proba(X_query)[0, true_class]) - base,
            '"refit" answer': refit_newton[position],
            "last-step refit": -np.log(last.predict_proba(features.transform(X_query))[0, true_class]) - base,
            '"fixed" answer': fixed_newton[position],
        }
    )
by_hand = pd.DataFrame(rows, index=X_train.index[differ])
by_hand["fixed - whole"] = by_hand['"fixed" answer'] - by_hand["whole refit"]
by_hand["refit - whole"] = by_hand['"refit" answer'] - by_hand["whole refit"]
formats = {c: "{:+.1e}".format if c.endswith("whole") else "{:+.6f}".format for c in by_hand}
print(by_hand.to_string(formatters=formats))

# %%
# Left: Newton leave-one-out under ``"refit"`` against whole-pipeline refits (the
# validation above). Right: the transformers' share of the change, predicted (refit answer
# minus fixed answer) against measured (whole-pipeline refit minus last-step refit), for the
# rows refitted by hand.
if plt is not None:
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), layout="constrained")
    LeaveOneOutDisplay(predicted=check.predicted, actual=check.actual, noise_floor=check.noise_floor).plot(
        ax=axes[0]
    )
    axes[0].set(
        title=f'"refit" vs whole-pipeline refits (Pearson {check.pearson:.3f})',
        xlabel="whole-pipeline refit (nats)",
        ylabel="predicted change (nats)",
    )
    LeaveOneOutDisplay(
        predicted=by_hand['"refit" answer'] - by_hand['"fixed" answer'],
        actual=by_hand["whole refit"] - by_hand["last-step refit"],
    ).plot(ax=axes[1])
    axes[1].set(
        title="the transformers' share",
        xlabel="whole-pipeline minus last-step refit (nats)",
        ylabel='"refit" minus "fixed" answer (nats)',
    )
    plt.show()
