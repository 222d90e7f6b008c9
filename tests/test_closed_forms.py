import numpy as np
import pytest
from scipy import integrate

from phasetrans.geometry import closed_forms


def _psi_by_quadrature(s, d):
    def J(tau):
        tail, _ = integrate.quad(lambda u: (u - tau) ** 2 * np.exp(-u * u / 2), tau, np.inf)
        return s * (1 + tau**2) + (d - s) * np.sqrt(2 / np.pi) * tail

    taus = np.linspace(0.0, 6.0, 3001)
    return min(J(t) for t in taus)


@pytest.mark.parametrize("s,d", [(40, 400), (5, 100), (100, 200)])
def test_l1_descent_psi_matches_quadrature(s, d):
    psi = closed_forms.l1_descent_cone_statdim(sparsity=s, dim=d)
    assert psi == pytest.approx(_psi_by_quadrature(s, d), rel=1e-4)
    assert s <= psi <= d


def test_l1_descent_psi_reference_value_and_edges():
    # ALMT / reference.md: s = 40, d = 400 gives psi ~ 131.5.
    psi = closed_forms.l1_descent_cone_statdim(sparsity=40, dim=400)
    assert psi == pytest.approx(131.5, abs=0.1)
    assert closed_forms.l1_descent_cone_statdim(sparsity=0, dim=10) == 0.0
    assert closed_forms.l1_descent_cone_statdim(sparsity=10, dim=10) == 10.0
    lower = closed_forms.l1_descent_cone_statdim_lower_bound(sparsity=40, dim=400)
    assert lower == pytest.approx(131.5 - 2 * np.sqrt(10), abs=0.1)


def test_l1_descent_bad_input():
    with pytest.raises(ValueError, match="sparsity must be <= 10"):
        closed_forms.l1_descent_cone_statdim(sparsity=11, dim=10)
    with pytest.raises(ValueError, match="dim must be >= 1"):
        closed_forms.l1_descent_cone_statdim(sparsity=0, dim=0)


def test_theory_window_closed_form():
    # a_eta = sqrt(8 log(4 / eta)) = sqrt(8 log 80) = 5.9208 at eta = 0.05 [ALMT Thm I];
    # half-width a / sqrt(D)
    window = closed_forms.theory_window(1000)
    assert window.a_eta == pytest.approx(5.9208, abs=1e-4)
    assert window.half_width == pytest.approx(5.9208 / np.sqrt(1000), abs=1e-5)  # ~0.19
    assert closed_forms.theory_window(10**6).half_width == pytest.approx(0.0059208, abs=1e-6)
    assert closed_forms.theory_window(1000, eta=0.5).a_eta == pytest.approx(np.sqrt(8 * np.log(8)))
    with pytest.raises(ValueError, match="eta must be < 1"):
        closed_forms.theory_window(1000, eta=1.0)
    with pytest.raises(ValueError, match="num_params must be >= 1"):
        closed_forms.theory_window(0)
