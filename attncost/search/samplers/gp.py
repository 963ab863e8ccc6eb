"""A Gaussian process on per-layer variant choices (numpy, exact, small).

Kernel (a sum of two parts, so it can express both where a variant sits and how many there
are): ``k(x, x') = s_h² · exp(−Σ_l θ_l·[x_l ≠ x'_l]) + s_c² · exp(−‖n(x) − n(x')‖² / 2ℓ²)``.
The first is the per-layer ARD Hamming kernel of categorical BO (COMBO, Oh et al. 2019;
Casmopolitan, Wan et al. 2021; Optuna's GPSampler uses the same distance): a product over
layers, so it can represent interactions between any layers, near or far. The second is an
RBF on the count vector n(x) (how many layers use each variant), for effects that depend on
counts (thresholds). Constant mean, Gaussian noise. Hyperparameters maximise the marginal
likelihood (analytic gradients, L-BFGS-B, weak log-normal priors); leave-one-out residuals
say how well the model fits (``calibration``: mean squared LOO z-score, 1 when calibrated;
``rank``: Spearman correlation of LOO predictions with the observations).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve, solve_triangular


@dataclass
class Fit:
    log_theta: np.ndarray  # per layer
    log_sh: float
    log_sc: float
    log_ell: float
    log_noise: float


class HammingGP:
    """GP regression on integer-coded arrangements ``X`` (n, layers), values in 0..V−1."""

    def __init__(self, layers: int, n_variants: int) -> None:
        self.L, self.V = layers, n_variants
        self.fit_: Fit | None = None

    # -- kernel ----------------------------------------------------------------------

    def _counts(self, X: np.ndarray) -> np.ndarray:
        out = np.zeros((len(X), self.V))
        for v in range(self.V):
            out[:, v] = (X == v).sum(axis=1)
        return out

    def _parts(self, A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-layer mismatch (L, |A|, |B|; float32) and squared count distance (|A|, |B|)."""
        mismatch = np.empty((self.L, len(A), len(B)), dtype=np.float32)
        for l in range(self.L):
            np.not_equal(A[:, l, None], B[None, :, l], out=mismatch[l], casting="unsafe")
        ca, cb = self._counts(A), self._counts(B)
        sq = (ca ** 2).sum(1)[:, None] + (cb ** 2).sum(1)[None, :] - 2 * ca @ cb.T
        return mismatch, sq

    @staticmethod
    def _k(f: Fit, mismatch: np.ndarray, sq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta = np.exp(f.log_theta)
        dist = np.tensordot(theta.astype(np.float32), mismatch, axes=1).astype(float)
        kh = np.exp(2 * f.log_sh) * np.exp(-dist)
        kc = np.exp(2 * f.log_sc) * np.exp(-sq / (2 * np.exp(2 * f.log_ell)))
        return kh, kc

    # -- fitting ---------------------------------------------------------------------

    def _pack(self, f: Fit) -> np.ndarray:
        return np.concatenate([f.log_theta, [f.log_sh, f.log_sc, f.log_ell, f.log_noise]])

    def _unpack(self, p: np.ndarray) -> Fit:
        L = self.L
        return Fit(p[:L].copy(), float(p[L]), float(p[L + 1]), float(p[L + 2]), float(p[L + 3]))

    def _prior(self, p: np.ndarray, noise_guess: float) -> tuple[float, np.ndarray]:
        """Weak log-normal priors (value, gradient): θ near 0.3, variances near 0.5, ℓ near
        2 layers' worth of count change, noise near the guess."""
        centre = np.concatenate([np.full(self.L, math.log(0.3)),
                                 [math.log(0.7), math.log(0.5), math.log(2.0),
                                  math.log(max(noise_guess, 1e-3))]])
        width = np.concatenate([np.full(self.L, 1.5), [1.0, 1.0, 1.0, 0.7]])
        d = (p - centre) / width
        return 0.5 * float(d @ d), d / width

    def _nll(self, p: np.ndarray, mismatch, sq, y, noise_guess) -> tuple[float, np.ndarray]:
        f = self._unpack(p)
        kh, kc = self._k(f, mismatch, sq)
        n = len(y)
        noise = math.exp(2 * f.log_noise)
        K = kh + kc + (noise + 1e-8) * np.eye(n)
        try:
            cf = cho_factor(K, lower=True)
        except np.linalg.LinAlgError:
            return 1e10, np.zeros_like(p)
        alpha = cho_solve(cf, y)
        nll = (0.5 * float(y @ alpha) + float(np.log(np.diag(cf[0])).sum())
               + 0.5 * n * math.log(2 * math.pi))
        Kinv = cho_solve(cf, np.eye(n))
        W = 0.5 * (Kinv - np.outer(alpha, alpha))
        theta = np.exp(f.log_theta)
        grad = np.empty_like(p)
        grad[:self.L] = -theta * np.tensordot(mismatch, (W * kh).astype(np.float32),
                                              axes=([1, 2], [0, 1]))
        grad[self.L] = 2 * float((W * kh).sum())
        grad[self.L + 1] = 2 * float((W * kc).sum())
        grad[self.L + 2] = float((W * kc * sq).sum()) / math.exp(2 * f.log_ell)
        grad[self.L + 3] = 2 * noise * float(np.trace(W))
        pv, pg = self._prior(p, noise_guess)
        return nll + pv, grad + pg

    def fit(self, X: np.ndarray, y: np.ndarray, noise: float, refit: bool = True) -> "HammingGP":
        """Condition on observations ``(X, y)``; ``noise`` is a guess of the observation sd
        (in y's units). With ``refit`` the hyperparameters are optimised again."""
        from scipy.optimize import minimize

        self.X = np.asarray(X, dtype=np.int64)
        y = np.asarray(y, dtype=float)
        self.y_mean = float(y.mean())
        self.y_scale = float(y.std()) or 1.0
        self.y = (y - self.y_mean) / self.y_scale
        self.mismatch, self.sq = self._parts(self.X, self.X)
        guess = noise / self.y_scale
        if refit or self.fit_ is None:
            start = self.fit_ or Fit(np.full(self.L, math.log(0.3)), math.log(0.7),
                                     math.log(0.5), math.log(2.0), math.log(max(guess, 1e-3)))
            bounds = [(-7, 3)] * self.L + [(-4, 2), (-4, 2), (-2, 3), (-7, 1)]
            res = minimize(self._nll, self._pack(start), jac=True, method="L-BFGS-B",
                           args=(self.mismatch, self.sq, self.y, guess), bounds=bounds,
                           options={"maxiter": 40})
            self.fit_ = self._unpack(res.x)
        self._condition()
        return self

    def _condition(self) -> None:
        f = self.fit_
        kh, kc = self._k(f, self.mismatch, self.sq)
        n = len(self.y)
        K = kh + kc + (math.exp(2 * f.log_noise) + 1e-8) * np.eye(n)
        self.chol = np.linalg.cholesky(K)
        self.alpha = cho_solve((self.chol, True), self.y)
        Kinv = cho_solve((self.chol, True), np.eye(n))
        diag = np.diag(Kinv)
        self.loo_z = self.alpha / np.sqrt(diag)  # (y − μ₋ᵢ) / sd₋ᵢ
        loo_mean = self.y - self.alpha / diag
        self.calibration = float(np.mean(self.loo_z ** 2))
        self.rank = _spearman(loo_mean, self.y) if n >= 5 else 0.0

    # -- prediction ------------------------------------------------------------------

    def predict(self, Xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and sd of the latent accuracy (without observation noise)."""
        f = self.fit_
        mismatch, sq = self._parts(np.asarray(Xc, dtype=np.int64), self.X)
        kh, kc = self._k(f, mismatch, sq)
        Ks = kh + kc
        mean = Ks @ self.alpha
        v = solve_triangular(self.chol, Ks.T, lower=True)
        prior = math.exp(2 * f.log_sh) + math.exp(2 * f.log_sc)
        var = np.maximum(prior - (v * v).sum(0), 1e-12)
        return mean * self.y_scale + self.y_mean, np.sqrt(var) * self.y_scale


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])
