"""The few distribution functions the report needs, computed with the scipy.special functions that
scipy.stats and statsmodels themselves call, so the numbers are theirs bit for bit (tests compare).

Why not scipy.stats: importing it (and statsmodels, which imports pandas) costs ~0.6-0.9 s of CPU,
more than some whole report sections; scipy.special is loaded already (expit, logit).
The special functions here are those of scipy 1.17 (`_binom_*` and `_beta_ppf` are its Boost
wrappers, private in scipy.special._ufuncs, hence the tests against scipy.stats)."""

from __future__ import annotations

import numpy as np
from scipy.special import betainccinv, ndtri, stdtr, stdtrit

try:  # scipy's private Boost wrappers (what scipy.stats.beta/binom call inside)
    from scipy.special._ufuncs import _beta_ppf, _binom_cdf, _binom_pmf, _binom_ppf, _binom_sf
except ImportError:  # a scipy that moved them: the public scipy.stats functions, at their import cost
    def _beta_ppf(q, a, b):
        from scipy.stats import beta
        return beta.ppf(q, a, b)

    def _binom_pmf(k, n, p):
        from scipy.stats import binom
        return binom.pmf(k, n, p)

    def _binom_cdf(k, n, p):
        from scipy.stats import binom
        return binom.cdf(k, n, p)

    def _binom_sf(k, n, p):
        from scipy.stats import binom
        return binom.sf(k, n, p)

    def _binom_ppf(q, n, p):
        from scipy.stats import binom
        return binom.ppf(q, n, p)


def _out(values: np.ndarray):
    """scipy.stats' return convention: a numpy scalar for scalar input, else the array."""
    return values[()] if values.ndim == 0 else values


def t_ppf(q, df):
    """scipy.stats.t.ppf(q, df)."""
    q, df = np.asarray(q, float), np.asarray(df, float)
    valid = df > 0
    with np.errstate(invalid="ignore"):
        inside = stdtrit(df, q) * 1.0 + 0.0  # scipy: _ppf * scale + loc (which also turns -0.0 into 0.0)
    out = np.where(valid & (q > 0) & (q < 1), inside, np.nan)
    out = np.where(valid & (q == 0), -np.inf, np.where(valid & (q == 1), np.inf, out))
    return _out(out)


def t_sf(x, df):
    """scipy.stats.t.sf(x, df)."""
    x, df = np.asarray(x, float), np.asarray(df, float)
    valid = df > 0
    with np.errstate(invalid="ignore"):
        inside = stdtr(df, -x)
    out = np.where(valid & (x > -np.inf) & (x < np.inf), inside, 0.0)
    out = np.where(valid & (x == -np.inf), 1.0, out)
    return _out(np.where(~valid | np.isnan(x), np.nan, out))


def norm_ppf(q):
    """scipy.stats.norm.ppf(q)."""
    q = np.asarray(q, float)
    out = np.where((q > 0) & (q < 1), ndtri(q) * 1.0 + 0.0, np.nan)
    return _out(np.where(q == 0, -np.inf, np.where(q == 1, np.inf, out)))


def norm_isf(q):
    """scipy.stats.norm.isf(q)."""
    q = np.asarray(q, float)
    out = np.where((q > 0) & (q < 1), -ndtri(q) * 1.0 + 0.0, np.nan)
    return _out(np.where(q == 1, -np.inf, np.where(q == 0, np.inf, out)))


def beta_ppf(q, a, b):
    """scipy.stats.beta.ppf(q, a, b)."""
    q, a, b = np.asarray(q, float), np.asarray(a, float), np.asarray(b, float)
    valid = (a > 0) & (b > 0)
    with np.errstate(invalid="ignore"):
        inside = _beta_ppf(q, a, b) * 1.0 + 0.0
    out = np.where(valid & (q > 0) & (q < 1), inside, np.nan)
    return _out(np.where(valid & (q == 0), 0.0, np.where(valid & (q == 1), 1.0, out)))


def beta_isf(q, a, b):
    """scipy.stats.beta.isf(q, a, b)."""
    q, a, b = np.asarray(q, float), np.asarray(a, float), np.asarray(b, float)
    valid = (a > 0) & (b > 0)
    with np.errstate(invalid="ignore"):
        inside = betainccinv(a, b, q) * 1.0 + 0.0
    out = np.where(valid & (q > 0) & (q < 1), inside, np.nan)
    return _out(np.where(valid & (q == 1), 0.0, np.where(valid & (q == 0), 1.0, out)))


def _binomial(k, n, p):
    """Arrays, scipy's argument check (a whole n >= 0, 0 <= p <= 1), and stand-ins where it fails so
    the special functions are not called (nor warn) on bad arguments."""
    k, n, p = np.asarray(k), np.asarray(n, float), np.asarray(p, float)
    valid = (n >= 0) & (n == np.floor(n)) & (p >= 0) & (p <= 1)
    bad = ~valid | np.isnan(k)
    return k, np.where(valid, n, 1.0), np.where(valid, p, 0.5), bad


def binom_pmf(k, n, p):
    """scipy.stats.binom.pmf(k, n, p)."""
    k, n, p, bad = _binomial(k, n, p)
    inside = ~bad & (k >= 0) & (k <= n) & (k == np.floor(k))
    out = np.where(inside, np.clip(_binom_pmf(np.where(inside, k, 0), n, p), 0, 1), 0.0)
    return _out(np.where(bad, np.nan, out))


def _binom_tail(tail, k, n, p):
    """A tail function on 0 <= k < n (0 elsewhere, for the caller to fill), with k, n and bad."""
    k, n, p, bad = _binomial(k, n, p)
    inside = ~bad & (k >= 0) & (k < n) & np.isfinite(k)
    return np.where(inside, np.clip(tail(np.floor(np.where(inside, k, 0)), n, p), 0, 1), 0.0), k, n, bad


def binom_cdf(k, n, p):
    """scipy.stats.binom.cdf(k, n, p)."""
    out, k, n, bad = _binom_tail(_binom_cdf, k, n, p)
    return _out(np.where(bad, np.nan, np.where(k >= n, 1.0, out)))


def binom_sf(k, n, p):
    """scipy.stats.binom.sf(k, n, p)."""
    out, k, _, bad = _binom_tail(_binom_sf, k, n, p)
    return _out(np.where(bad, np.nan, np.where(k < 0, 1.0, out)))


def binom_ppf(q, n, p):
    """scipy.stats.binom.ppf(q, n, p)."""
    q, n, p, bad = _binomial(q, n, p)
    inside = ~bad & (q > 0) & (q < 1)
    out = np.where(inside, _binom_ppf(np.where(inside, q, 0.5), n, p) + 0, np.nan)
    out = np.where(~bad & (q == 0), -1.0, np.where(~bad & (q == 1), n, out))
    return _out(np.where(bad, np.nan, out))


def binomtest_pvalue(k: int, n: int, p: float = 0.5, alternative: str = "two-sided") -> float:
    """scipy.stats.binomtest(k, n, p, alternative).pvalue, by scipy's own algorithm: the two-sided
    p-value sums both tails up to the probability of k, with scipy's relative tolerance 1e-7."""
    if not (isinstance(k, (int, np.integer)) and isinstance(n, (int, np.integer))) or k < 0 or n < 1 or k > n:
        raise ValueError(f"binomial test needs whole numbers 0 <= k <= n, n >= 1; got k={k}, n={n}")
    if not 0 <= p <= 1:
        raise ValueError(f"binomial test needs 0 <= p <= 1, got p={p}")
    if alternative == "less":
        return binom_cdf(k, n, p)
    if alternative == "greater":
        return binom_sf(k - 1, n, p)
    if alternative != "two-sided":
        raise ValueError(f"alternative {alternative!r}: 'two-sided', 'less' or 'greater'")
    d = binom_pmf(k, n, p)
    rerr = 1 + 1e-7
    if k == p * n:
        return 1.0
    if k < p * n:
        ix = _search(lambda x: -binom_pmf(x, n, p), -d * rerr, np.ceil(p * n), n)
        y = n - ix + int(d * rerr == binom_pmf(ix, n, p))
        pval = binom_cdf(k, n, p) + binom_sf(n - y, n, p)
    else:
        ix = _search(lambda x: binom_pmf(x, n, p), d * rerr, 0, np.floor(p * n))
        y = ix + 1
        pval = binom_cdf(y - 1, n, p) + binom_sf(k - 1, n, p)
    return min(1.0, pval)


def _search(a, d, lo, hi):
    """scipy.stats._binomtest._binary_search_for_binom_tst: the i in [lo, hi] with a(i) <= d < a(i+1)."""
    while lo < hi:
        mid = lo + (hi - lo) // 2
        value = a(mid)
        if value < d:
            lo = mid + 1
        elif value > d:
            hi = mid - 1
        else:
            return mid
    return lo if a(lo) <= d else lo - 1


def proportion_confint(count, nobs, alpha: float = 0.05, method: str = "wilson"):
    """statsmodels.stats.proportion.proportion_confint, two-sided, for method 'wilson' (Wilson score)
    and 'beta' (Clopper-Pearson), with statsmodels' arithmetic step by step so the bounds are equal.
    Scalars in, floats out; arrays in, arrays out."""
    is_scalar = np.isscalar(count) and np.isscalar(nobs)
    count_a, nobs_a = np.asarray(count, float), np.asarray(nobs, float)
    q_ = count_a / nobs_a
    alpha = alpha / 2.0
    if method == "wilson":
        crit = norm_isf(alpha)
        crit2 = crit**2
        denom = 1 + crit2 / nobs_a
        center = (q_ + crit2 / (2 * nobs_a)) / denom
        dist = crit * np.sqrt(q_ * (1.0 - q_) / nobs_a + crit2 / (4.0 * nobs_a**2))
        dist /= denom
        low, high = np.clip(center - dist, 0, 1), np.clip(center + dist, 0, 1)
    elif method == "beta":
        with np.errstate(invalid="ignore"):
            low, high = beta_ppf(alpha, count_a, nobs_a - count_a + 1), beta_isf(alpha, count_a + 1, nobs_a - count_a)
        if np.ndim(low) > 0:
            low[q_ == 0], high[q_ == 1] = 0, 1
        else:
            low, high = 0 if q_ == 0 else low, 1 if q_ == 1 else high
    else:
        raise ValueError(f"method {method!r}: 'wilson' or 'beta'")
    if is_scalar:
        return float(low), float(high)
    return low, high
