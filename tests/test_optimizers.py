"""Each optimizer's update against its Keras 3 formula worked by hand, sparse == dense, clipping."""

import math

import numpy as np
import pytest

from rnnsim.errors import InputError
from rnnsim.optimizers import SGD, Adam, RMSprop, SparseRows, get


def two_steps(optimizer, gradients=(0.5, -0.2), start=1.0):
    """Apply two scalar gradients to w = start (as a float64 array) and return w after each step."""
    weight = np.array([start], dtype=np.float64)
    seen = []
    for gradient in gradients:
        optimizer.apply_gradients([np.array([gradient])], [weight])
        seen.append(float(weight[0]))
    return seen


def test_sgd_plain_is_w_minus_lr_g():
    assert two_steps(SGD(learning_rate=0.1)) == pytest.approx([0.95, 0.97], abs=1e-15)


def test_sgd_momentum_matches_keras_formula():
    # m1 = -0.1*0.5 = -0.05, w1 = 0.95; m2 = 0.9*(-0.05) + 0.02 = -0.025, w2 = 0.925
    assert two_steps(SGD(0.1, momentum=0.9)) == pytest.approx([0.95, 0.925], abs=1e-15)


def test_sgd_nesterov_matches_keras_formula():
    # w1 = 1 + 0.9*(-0.05) - 0.05 = 0.905; m2 = -0.025, w2 = 0.905 + 0.9*(-0.025) + 0.02 = 0.9025
    assert two_steps(SGD(0.1, momentum=0.9, nesterov=True)) == pytest.approx([0.905, 0.9025], abs=1e-15)


def test_rmsprop_puts_epsilon_inside_the_square_root():
    # v1 = 0.1*0.25 = 0.025; w1 = 1 - 0.1*0.5/sqrt(0.025 + 1e-7) = 0.68377286643679...
    # v2 = 0.9*0.025 + 0.1*0.04 = 0.0265; w2 = w1 + 0.1*0.2/sqrt(0.0265 + 1e-7) = 0.80663165799476...
    first, second = two_steps(RMSprop(learning_rate=0.1))
    assert first == pytest.approx(0.6837728664367967, abs=1e-14)
    assert second == pytest.approx(0.806631657994765, abs=1e-14)
    assert first == pytest.approx(1 - 0.05 / math.sqrt(0.025 + 1e-7), abs=1e-15)


def test_rmsprop_momentum_and_centered():
    # momentum 0.5: m1 = 0.31623, w1 = 0.68377; m2 = 0.5*m1 - 0.02/sqrt(0.0265+1e-7), w2 = w1 - m2
    assert two_steps(RMSprop(0.1, momentum=0.5))[1] == pytest.approx(0.6485180912131633, abs=1e-14)
    # centered: a1 = 0.05, denominator = 0.025 - 0.0025 + 1e-7 -> w1 = 1 - 0.05/sqrt(0.0225001)
    assert two_steps(RMSprop(0.1, centered=True))[0] == pytest.approx(0.6666674074049382, abs=1e-14)


def test_adam_matches_keras3_formula():
    # alpha1 = 0.1*sqrt(1-0.999)/(1-0.9); m1 = 0.05, v1 = 0.00025 -> w1 = 1 - alpha1*0.05/(0.0158114 + 1e-7)
    first, second = two_steps(Adam(learning_rate=0.1))
    assert first == pytest.approx(0.900000632451532, abs=1e-14)
    assert second == pytest.approx(0.8654402506933557, abs=1e-14)


def test_adam_amsgrad_keeps_the_largest_second_moment():
    weight = np.zeros(1)
    optimizer = Adam(0.1, amsgrad=True)
    optimizer.apply_gradients([np.array([1.0])], [weight])
    optimizer.apply_gradients([np.array([0.0])], [weight])
    velocity, velocity_hat = optimizer.slots[0]["velocity"], optimizer.slots[0]["velocity_hat"]
    assert velocity_hat[0] == pytest.approx(0.001) and velocity[0] < velocity_hat[0]


@pytest.mark.parametrize("make", [
    lambda: SGD(0.1), lambda: SGD(0.1, momentum=0.9), lambda: RMSprop(0.01), lambda: RMSprop(0.01, momentum=0.5),
    lambda: RMSprop(0.01, centered=True), lambda: Adam(0.01), lambda: Adam(0.01, amsgrad=True),
    lambda: Adam(0.01, clipnorm=0.1), lambda: RMSprop(0.01, global_clipnorm=0.05), lambda: SGD(0.1, clipvalue=0.01),
])
def test_sparse_row_updates_equal_dense_updates_with_zero_rows(make):
    rng = np.random.default_rng(0)
    table_sparse = rng.normal(size=(10, 3))
    table_dense = table_sparse.copy()
    sparse_optimizer, dense_optimizer = make(), make()
    for rows in ([1, 4], [4, 7, 9], [0]):
        values = rng.normal(size=(len(rows), 3))
        gradient = SparseRows(np.array(rows), values, (10, 3))
        sparse_optimizer.apply_gradients([gradient], [table_sparse])
        dense_optimizer.apply_gradients([gradient.to_dense()], [table_dense])
    np.testing.assert_allclose(table_sparse, table_dense, rtol=0, atol=1e-14)


def test_clipnorm_and_global_clipnorm_scale_gradients():
    weight = np.zeros(2)
    SGD(1.0, clipnorm=1.0).apply_gradients([np.array([3.0, 4.0])], [weight])
    np.testing.assert_allclose(weight, [-0.6, -0.8])
    first, second = np.zeros(1), np.zeros(1)
    SGD(1.0, global_clipnorm=1.0).apply_gradients([np.array([3.0]), np.array([4.0])], [first, second])
    np.testing.assert_allclose([first[0], second[0]], [-0.6, -0.8])


def test_optimizer_names_and_bad_arguments():
    assert isinstance(get("RMSprop"), RMSprop) and isinstance(get("adam"), Adam) and isinstance(get("sgd"), SGD)
    with pytest.raises(InputError, match="unknown optimizer"):
        get("adagradx")
    with pytest.raises(InputError, match="only one of"):
        Adam(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(InputError, match="rho"):
        RMSprop(rho=1.5)


def test_state_round_trip_continues_identically():
    rng = np.random.default_rng(1)
    gradients = [rng.normal(size=(3, 2)) for _ in range(4)]
    weight_a = np.ones((3, 2))
    optimizer_a = Adam(0.05)
    for g in gradients:
        optimizer_a.apply_gradients([g], [weight_a])
    weight_b = np.ones((3, 2))
    optimizer_b = Adam(0.05)
    for g in gradients[:2]:
        optimizer_b.apply_gradients([g], [weight_b])
    iterations, entries = optimizer_b.get_state()
    optimizer_c = Adam(0.05)
    optimizer_c.set_state(iterations, [(i, n, a.copy()) for i, n, a in entries], [weight_b])
    for g in gradients[2:]:
        optimizer_c.apply_gradients([g], [weight_b])
    np.testing.assert_array_equal(weight_a, weight_b)


def test_active_slots_are_the_slots_build_creates():
    cases = [(SGD(0.1), ()), (SGD(0.1, momentum=0.9), ("momentum",)), (RMSprop(), ("velocity",)),
             (Adam(), ("momentum", "velocity")), (Adam(amsgrad=True), ("momentum", "velocity", "velocity_hat"))]
    for optimizer, expected in cases:
        assert tuple(optimizer.active_slots()) == expected, type(optimizer).__name__
        optimizer.build([np.zeros((2, 3))])
        assert tuple(optimizer.slots[0]) == expected
    centered = RMSprop(momentum=0.5, centered=True)
    assert set(centered.active_slots()) == {"velocity", "average_gradient", "momentum"}
