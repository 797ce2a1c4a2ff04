"""The fast Conv's internals: output blocks, the testing phase's column tiles, reused buffers,
the input-gradient routes, products in pieces, replicas, and the switch that skips the input
gradient.

Every result is compared with the teaching Conv (``layers.conv.Conv``), whose math the
math tests in ``tests/test_conv.py`` establish.
"""
import copy

import numpy as np
import pytest

from framework.gradient_check import assert_gradients
from layers.conv import Conv as TeachingConv
from layers.fast import conv as fast_conv
from layers.fast.blas import numpy_blas
from layers.fast.conv import Conv
from tests.helpers import batch_last, make_conv

TOLERANCE = 1e-7

# (stride_shape, convolution_shape, num_kernels, input_shape)
CASES = {
    "2-D odd 3x3": ((1, 1), (2, 3, 3), 3, (2, 2, 6, 7)),
    "2-D even 4x4": ((1, 1), (2, 4, 4), 2, (2, 2, 6, 5)),
    "2-D uneven 5x8": ((1, 1), (3, 5, 8), 2, (2, 3, 10, 13)),
    "2-D LeNet 5x5": ((1, 1), (2, 5, 5), 3, (2, 2, 7, 8)),
    "2-D stride (3, 2) uneven 4x5": ((3, 2), (2, 4, 5), 2, (2, 2, 10, 13)),
    "2-D stride larger than kernel": ((4, 3), (1, 2, 2), 2, (2, 1, 9, 7)),
    "2-D 1x1 kernel, stride 2": ((2, 2), (3, 1, 1), 2, (2, 3, 5, 6)),
    "1-D even 4": ([1], (2, 4), 2, (3, 2, 9)),
    "1-D stride 2": ([2], (3, 3), 2, (2, 3, 11)),
}
# Output blocks (B_y, B_x) to try on every case; 1-D layers take the (1, B_x) ones.
OUTPUT_BLOCKS = [(1, 1), (2, 2), (2, 3), (3, 1), (1, 2), (4, 4)]


@pytest.fixture
def rng():
    return np.random.default_rng(20240509)


def teaching_twin(layer):
    twin = TeachingConv(layer.stride_shape, layer.convolution_shape, layer.num_kernels)
    twin.weights, twin.bias = layer.weights, layer.bias
    return twin


def expected_results(layer, input_tensor, error_tensor):
    twin = teaching_twin(layer)
    output = twin.forward(input_tensor)
    return output, twin.backward(error_tensor), twin.gradient_weights, twin.gradient_bias


def assert_results(layer, input_tensor, error_tensor, expected, message=""):
    actual = (layer.forward(input_tensor), layer.backward(error_tensor), layer.gradient_weights, layer.gradient_bias)
    for name, got, wanted in zip(("output", "input gradient", "weights gradient", "bias gradient"), actual, expected):
        np.testing.assert_allclose(got, wanted, rtol=1e-12, atol=1e-12, err_msg=f"{name} {message}")


# -- output blocks -----------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_every_output_block_gives_the_teaching_results(case, rng):
    # Blocks that divide the output, overhang it, or are larger than it, with and without
    # strides, in the training and the testing phase.
    stride_shape, convolution_shape, num_kernels, input_shape = case
    layer = make_conv(Conv, stride_shape, convolution_shape, num_kernels, rng)
    input_tensor = rng.standard_normal(input_shape)
    error_tensor = rng.standard_normal(teaching_twin(layer).forward(input_tensor).shape)
    expected = expected_results(layer, input_tensor, error_tensor)
    for block in [block for block in OUTPUT_BLOCKS if len(input_shape) == 4 or block[0] == 1]:
        layer.output_block = block
        for testing_phase in (False, True):
            layer.testing_phase = testing_phase
            assert_results(layer, input_tensor, error_tensor, expected, f"output_block {block}, "
                                                                        f"testing phase {testing_phase}")


@pytest.mark.parametrize("block", [(1, 1), (2, 2), (3, 2)])
def test_gradients_with_output_blocks(block, rng):
    layer = make_conv(Conv, (1, 1), (2, 4, 3), 3, rng)
    layer.output_block = block
    assert_gradients(layer, rng.standard_normal((2, 2, 7, 6)), tolerance=TOLERANCE, rng=rng)


def test_default_output_blocks(monkeypatch):
    # Where no product runs in pieces: 2x2 for 2-D layers with stride 1 and at most 16 kernels
    # of at least 5x5, else 1x1 (class docstring).
    monkeypatch.setattr(fast_conv, "_pieces_pay", lambda: (False, True))
    assert Conv((1, 1), (1, 5, 5), 6).output_block == (2, 2)
    assert Conv((1, 1), (16, 5, 5), 16).output_block == (2, 2)
    assert Conv((1, 1), (6, 7, 5), 16).output_block == (2, 2)
    assert Conv((1, 1), (16, 5, 5), 32).output_block == (1, 1)
    assert Conv((1, 1), (6, 3, 3), 16).output_block == (1, 1)
    assert Conv((1, 1), (6, 5, 4), 16).output_block == (1, 1)
    assert Conv((2, 1), (6, 5, 5), 16).output_block == (1, 1)
    assert Conv([1], (3, 5), 4).output_block == (1, 1)


@pytest.mark.parametrize("channels, compute_input_gradient, expected", [
    (8, True, (2, 2)), (9, True, (1, 1)), (16, True, (1, 1)), (3, False, (1, 1)), (1, False, (1, 1)),
])
def test_where_products_run_in_pieces_blocks_go_to_few_channels_with_an_input_gradient(
        channels, compute_input_gradient, expected, pieces, rng):
    layer = make_conv(Conv, (1, 1), (channels, 5, 5), 16, rng)
    layer.compute_input_gradient = compute_input_gradient
    layer.forward(rng.standard_normal((2, channels, 6, 6)))
    assert layer.output_block == expected
    assert Conv((1, 1), (channels, 5, 5), 32).output_block == (1, 1)  # many kernels: never blocks


def test_the_block_follows_the_rule_at_every_forward_pass_until_it_is_set(monkeypatch, rng):
    # The rule reads the BLAS threads (here: whether products run in pieces) and the switch;
    # a change between passes takes effect at the next forward pass, with the teaching results.
    pieces_pay = [(False, True)]
    monkeypatch.setattr(fast_conv, "_pieces_pay", lambda: pieces_pay[0])
    layer = make_conv(Conv, (1, 1), (12, 5, 5), 4, rng)
    input_tensor, error_tensor = rng.standard_normal((2, 12, 7, 6)), rng.standard_normal((2, 4, 7, 6))
    expected = expected_results(layer, input_tensor, error_tensor)
    for pays, block in [((False, True), (2, 2)), ((True, True), (1, 1)), ((False, True), (2, 2))]:
        pieces_pay[0] = pays
        assert_results(layer, input_tensor, error_tensor, expected, f"pieces {pays}")
        assert layer.output_block == block
    layer.output_block = (2, 2)  # set: kept whatever the rule says
    pieces_pay[0] = (True, True)
    assert_results(layer, input_tensor, error_tensor, expected, "block set")
    assert layer.output_block == (2, 2)


@pytest.mark.parametrize("block", [(0, 1), (1, 2, 3), "ab", 2, (1.5, 1)])
def test_bad_output_block_is_refused(block):
    with pytest.raises(ValueError, match="Conv.*output_block"):
        Conv((1, 1), (1, 3, 3), 2).output_block = block


def test_1d_output_block_must_be_one_pixel_high():
    with pytest.raises(ValueError, match=r"output_block must be \(1, B_x\)"):
        Conv([1], (1, 3), 2).output_block = (2, 2)


def test_setting_output_block_discards_the_forward_pass(rng):
    layer = make_conv(Conv, (1, 1), (1, 5, 5), 2, rng)
    output = layer.forward(rng.standard_normal((2, 1, 6, 6)))
    layer.output_block = (1, 1)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones(output.shape))


def test_columns_shrink_with_output_blocks(rng):
    # LeNet's 5x5 kernels with 2x2 blocks: one column holds the 6x6 patch under four outputs.
    layer = make_conv(Conv, (1, 1), (1, 5, 5), 6, rng)
    layer.forward(rng.standard_normal((8, 1, 28, 28)))
    tiles = list(layer._column_tiles(layer._padded))
    assert {tile.shape[0] for _, _, tile in tiles} == {1 * 6 * 6}
    assert sum(tile.shape[1] for _, _, tile in tiles) == 14 * 14 * 8
    layer.output_block = (1, 1)
    layer.forward(rng.standard_normal((8, 1, 28, 28)))
    tiles = list(layer._column_tiles(layer._padded))
    assert {tile.shape[0] for _, _, tile in tiles} == {1 * 5 * 5}
    assert sum(tile.shape[1] for _, _, tile in tiles) == 28 * 28 * 8


# -- input gradient routes, the first layer's switch ------------------------------------------


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_every_input_gradient_route_gives_the_teaching_gradient(case, rng):
    # Without output blocks a layer takes the correlation route (stride 1) or the phases route
    # (strides, no more kernels than channels), else col2im; each route must give the teaching
    # layer's gradient wherever it applies, whichever the layer would pick.
    stride_shape, convolution_shape, num_kernels, input_shape = case
    layer = make_conv(Conv, stride_shape, convolution_shape, num_kernels, rng)
    layer.output_block = (1, 1)
    input_tensor = rng.standard_normal(input_shape)
    error_tensor = rng.standard_normal(teaching_twin(layer).forward(input_tensor).shape)
    _, expected, _, _ = expected_results(layer, input_tensor, error_tensor)
    layer.forward(input_tensor)
    errors = error_tensor if error_tensor.ndim == 4 else error_tensor[:, :, np.newaxis, :]
    error_rows = np.ascontiguousarray(errors.transpose(1, 2, 3, 0)).reshape(num_kernels, -1)
    routes = {"col2im": lambda: layer._input_gradient_by_col2im(error_rows),
              "phases": lambda: layer._input_gradient_by_phases(error_rows)}
    if set(np.atleast_1d(stride_shape)) == {1}:
        routes["correlation"] = lambda: layer._input_gradient_by_correlation(error_rows)[0]
    for name, route in routes.items():
        np.testing.assert_allclose(route(), expected, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("case", [case for case in CASES.values() if set(np.atleast_1d(case[0])) == {1}],
                         ids=[name for name, case in CASES.items() if set(np.atleast_1d(case[0])) == {1}])
def test_the_correlation_gives_the_weight_gradient_of_a_batch_last_input(case, rng, monkeypatch):
    # With the forward input batch-last (another fast layer's output) and no more kernels than
    # channels, the correlation's columns of E give ∂L/∂W too, and the input's columns are not
    # built again (odd, even and uneven kernels, 1-D): the teaching layer's four results.
    stride_shape, convolution_shape, num_kernels, input_shape = case
    num_kernels = min(num_kernels, convolution_shape[0])
    layer = make_conv(Conv, stride_shape, convolution_shape, num_kernels, rng)
    layer.output_block = (1, 1)
    monkeypatch.setattr(fast_conv, "_pieces_pay", lambda: (True, True))  # the correlation for any K
    input_tensor = batch_last(rng.standard_normal(input_shape))
    error_tensor = batch_last(rng.standard_normal(teaching_twin(layer).forward(input_tensor).shape))
    expected = expected_results(layer, input_tensor, error_tensor)
    rebuilt = []
    original = layer._spread_gradient
    monkeypatch.setattr(layer, "_spread_gradient", lambda *arguments: rebuilt.append(1) or original(*arguments))
    assert_results(layer, input_tensor, error_tensor, expected, "batch-last input")
    assert rebuilt == []
    # Batch-first input (as the data come): ∂L/∂W from the input's columns, the same numbers;
    # and so with more kernels than channels.
    assert_results(layer, np.ascontiguousarray(input_tensor), error_tensor, expected, "batch-first input")
    assert rebuilt == [1]
    wider = make_conv(Conv, stride_shape, convolution_shape, convolution_shape[0] + 1, rng)
    wider.output_block = (1, 1)
    wider_error = batch_last(rng.standard_normal(teaching_twin(wider).forward(input_tensor).shape))
    assert_results(wider, input_tensor, wider_error, expected_results(wider, input_tensor, wider_error),
                   "more kernels than channels")


@pytest.mark.parametrize("input_shape, convolution_shape", [((3, 4, 5, 6), (4, 1, 1)), ((3, 4, 7), (4, 1))],
                         ids=["2-D", "1-D"])
@pytest.mark.parametrize("layout", ["C", "batch-last"])
def test_pointwise_layers_multiply_their_input_directly(input_shape, convolution_shape, layout, rng):
    # 1x1 kernels at stride 1: the input is the columns matrix (a view of a batch-last input,
    # no padded copy), ∂L/∂x one product; the teaching results in both phases, input untouched.
    stride_shape = (1,) * (len(input_shape) - 2)
    layer = make_conv(Conv, stride_shape, convolution_shape, 3, rng)
    input_tensor = rng.standard_normal(input_shape)
    error_tensor = rng.standard_normal((input_shape[0], 3) + input_shape[2:])
    if layout == "batch-last":
        input_tensor, error_tensor = batch_last(input_tensor), batch_last(error_tensor)
    expected = expected_results(layer, input_tensor, error_tensor)
    for testing_phase in (False, True):
        layer.testing_phase = testing_phase
        input_copy = input_tensor.copy()
        assert_results(layer, input_tensor, error_tensor, expected, f"testing phase {testing_phase}")
        np.testing.assert_array_equal(input_tensor, input_copy)
        assert np.shares_memory(layer.columns, input_tensor) == (layout == "batch-last")
        assert "padded" not in layer._buffers
        assert np.argmin(layer.backward(error_tensor).strides) == 0  # batch-last, as every route's


def test_first_layer_can_skip_the_input_gradient(rng):
    assert "compute_input_gradient" in Conv.switches
    layer = make_conv(Conv, (1, 1), (1, 3, 3), 2, rng)
    reference = copy.deepcopy(layer)
    layer.compute_input_gradient = False
    input_tensor = rng.standard_normal((2, 1, 5, 5))
    error_tensor = rng.standard_normal((2, 2, 5, 5))
    layer.forward(input_tensor)
    assert layer.backward(error_tensor) is None
    reference.forward(input_tensor)
    reference.backward(error_tensor)
    np.testing.assert_allclose(layer.gradient_weights, reference.gradient_weights, rtol=1e-14)
    np.testing.assert_allclose(layer.gradient_bias, reference.gradient_bias, rtol=1e-14)


# -- tiles -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("block", [(1, 1), (2, 2)])
def test_tiles_of_one_row_give_the_teaching_results_in_both_phases(case, block, rng):
    """With TILE_BYTES=1 and WHOLE_BYTES=0 every tile holds one row of output blocks (the tests'
    small layers fit in one tile otherwise): outputs, and the gradients of a backward pass after
    either phase's forward pass, are the teaching layer's."""
    stride_shape, convolution_shape, num_kernels, input_shape = case
    layer = make_conv(Conv, stride_shape, convolution_shape, num_kernels, rng)
    if len(convolution_shape) == 2:
        block = (1, block[1])
    layer.output_block, layer.TILE_BYTES, layer.WHOLE_BYTES = block, 1, 0
    input_tensor = rng.standard_normal(input_shape)
    error_tensor = rng.standard_normal(teaching_twin(layer).forward(input_tensor).shape)
    expected = expected_results(layer, input_tensor, error_tensor)
    for testing_phase in (False, True, False):
        layer.testing_phase = testing_phase
        assert_results(layer, input_tensor, error_tensor, expected, f"testing phase {testing_phase}")
        assert layer.columns is None  # never built whole


def test_a_kept_tile_is_never_stale(rng):
    """The last tile of a forward pass is used again by backward: a forward pass on other
    images in between (either phase) must replace it."""
    layer = make_conv(Conv, (1, 1), (2, 3, 3), 3, rng)
    first, second = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((2, 2, 6, 6))
    error_tensor = rng.standard_normal((2, 3, 6, 6))
    expected = expected_results(layer, second, error_tensor)
    for testing_phase in (False, True):
        layer.testing_phase = False
        layer.forward(first)
        layer.testing_phase = testing_phase
        assert_results(layer, second, error_tensor, expected, f"testing phase {testing_phase}")


# -- products in pieces ------------------------------------------------------------------------


@pytest.fixture
def pieces(monkeypatch):
    """Products and sums in pieces wherever their shapes allow, whatever this machine's BLAS
    (they pay only with OpenBLAS's AVX-512 kernels, and CI forces its AVX2 ones)."""
    monkeypatch.setattr(fast_conv, "_pieces_pay", lambda: (True, True))


class FakeBLAS:
    def __init__(self, architecture, threads):
        self.architecture, self.threads = architecture, threads

    def get_num_threads(self):
        return self.threads


@pytest.mark.parametrize("library, expected", [
    (FakeBLAS("SkylakeX", 1), (True, True)), (FakeBLAS("SapphireRapids", 2), (False, True)),
    (FakeBLAS("Haswell", 1), (False, False)), (FakeBLAS("Zen", 2), (False, False)), (None, (False, False)),
])
def test_pieces_are_used_with_the_blas_kernels_where_they_pay(library, expected, monkeypatch):
    monkeypatch.setattr(fast_conv, "numpy_blas", lambda: library)
    assert fast_conv._pieces_pay() == expected


def test_numpy_blas_is_found_where_numpy_bundles_openblas():
    # A NumPy wheel bundles its own OpenBLAS (NumPy's build configuration names it
    # "scipy-openblas"); the rule must find that one, not SciPy's. Any other BLAS: None.
    configuration = getattr(np.__config__, "CONFIG", None)
    if configuration is None:
        pytest.skip("NumPy before 1.26 does not say which BLAS it was built with")
    blas = configuration["Build Dependencies"]["blas"]
    library = numpy_blas()
    if blas["name"] != "scipy-openblas":
        assert library is None
        return
    assert library.internal_api == "openblas" and library.get_num_threads() >= 1
    assert library.version == blas["version"]


@pytest.mark.parametrize("rows, inner, width", [(16, 9, 128 * 3), (6, 75, 128 * 2 + 50), (32, 100, 300), (144, 32, 300),
                                               (16, 576, 200), (32, 800, 100), (16, 40, 100), (33, 40, 300),
                                               (32, 1000, 300), (144, 64, 300)])
def test_products_in_pieces_are_the_plain_product(rows, inner, width, pieces, rng):
    # Whole pieces, a remainder, 32 rows with a short sum, many rows with a very short sum,
    # pieces of 64 and of 32 columns; too narrow for a piece, and three shapes too large for
    # pieces; into a strided target (a column range of a wider matrix), as the forward pass
    # writes them.
    left, right = rng.standard_normal((rows, inner)), rng.standard_normal((inner, width))
    target = np.zeros((rows, width + 30))
    assert fast_conv._product(left, right, target[:, 10:10 + width]) is not None
    np.testing.assert_allclose(target[:, 10:10 + width], left @ right, rtol=1e-12, atol=1e-12)
    assert not target[:, :10].any() and not target[:, 10 + width:].any()


@pytest.mark.parametrize("rows, inner, expected", [
    (16, 9, 128), (144, 32, 128), (6, 1300, 128), (16, 400, 128), (16, 576, 64), (32, 144, 128), (32, 288, 64),
    (32, 576, 32), (32, 800, 32), (32, 1000, None), (33, 144, None), (64, 288, None), (576, 32, 32),
    (2000, 16, None),
])
def test_pieces_are_the_widest_that_keep_each_product_small(rows, inner, expected, pieces):
    # rows x width x inner within OpenBLAS's small-product limit (SMALL_PRODUCT = 10⁶), for at
    # most 32 rows or an inner dimension of at most 32.
    assert fast_conv._piece_width(rows, inner) == expected
    assert fast_conv._in_pieces(rows, inner) == (expected is not None)


def test_with_more_blas_threads_only_first_layers_short_products_run_in_pieces(monkeypatch):
    monkeypatch.setattr(fast_conv, "_pieces_pay", lambda: (False, True))  # AVX-512 kernels, two threads
    assert fast_conv._piece_width(16, 9) == fast_conv._piece_width(6, 75) == 128
    assert fast_conv._piece_width(16, 76) is None and fast_conv._piece_width(17, 9) is None
    assert fast_conv._piece_width(16, 400) is None


def test_no_pieces_with_other_blas_kernels(monkeypatch):
    monkeypatch.setattr(fast_conv, "_pieces_pay", lambda: (False, False))
    assert fast_conv._piece_width(16, 9) is None and fast_conv._piece_width(6, 75) is None


@pytest.mark.parametrize("channels, compute_input_gradient, expected", [
    (1, False, (1, 1)), (3, False, (1, 1)), (4, False, (2, 2)), (1, True, (2, 2)), (6, True, (2, 2)),
])
def test_with_more_blas_threads_blocks_leave_first_layers_of_few_channels(channels, compute_input_gradient, expected,
                                                                         monkeypatch, rng):
    # Their product without blocks (at most 3 channels x 25) runs in pieces; deeper layers keep blocks.
    monkeypatch.setattr(fast_conv, "_pieces_pay", lambda: (False, True))
    layer = make_conv(Conv, (1, 1), (channels, 5, 5), 6, rng)
    layer.compute_input_gradient = compute_input_gradient
    layer.forward(rng.standard_normal((2, channels, 6, 6)))
    assert layer.output_block == expected


@pytest.mark.parametrize("rows, kernels, length", [(18, 8, 512 * 2 + 64), (18, 8, 512 * 3), (75, 16, 5000),
                                                   (9, 6, 4096), (144, 16, 4096), (18, 8, 1000)])
def test_sums_in_pieces_are_the_plain_product(rows, kernels, length, pieces, rng):
    # Sums in pieces (with and without a remainder), and the sizes that skip them.
    left, right = rng.standard_normal((rows, length)), rng.standard_normal((kernels, length))
    np.testing.assert_allclose(fast_conv._product_with_transposed(left, right), left @ right.T, rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("stride_shape, convolution_shape, num_kernels, input_shape", [
    ((1, 1), (4, 3, 3), 12, (4, 4, 16, 17)),  # forward and ∂L/∂W in pieces, ∂L/∂x by col2im
    ((2, 2), (12, 3, 3), 4, (16, 12, 16, 17)),  # forward, ∂L/∂W and the phases' products in pieces
    ((1, 1), (12, 3, 3), 4, (4, 12, 16, 17)),  # the correlation's products in pieces
    ((1, 1), (12, 1, 1), 16, (8, 12, 16, 17)),  # pointwise: all three products in pieces
])
def test_layers_whose_products_run_in_pieces_give_the_teaching_results(stride_shape, convolution_shape, num_kernels,
                                                                        input_shape, pieces, rng):
    layer = make_conv(Conv, stride_shape, convolution_shape, num_kernels, rng)
    input_tensor = rng.standard_normal(input_shape)
    error_tensor = rng.standard_normal(teaching_twin(layer).forward(input_tensor).shape)
    expected = expected_results(layer, input_tensor, error_tensor)
    for testing_phase in (False, True):
        layer.testing_phase = testing_phase
        assert_results(layer, input_tensor, error_tensor, expected, f"testing phase {testing_phase}")


@pytest.mark.parametrize("pieces_pay, stride_shape, channels, kernels, expected", [
    ((True, True), (1, 1), 4, 12, "_input_gradient_by_correlation"),  # its product runs in pieces
    ((False, True), (1, 1), 4, 12, "_input_gradient_by_col2im"),  # it would not: col2im
    ((True, True), (1, 1), 40, 80, "_input_gradient_by_col2im"),  # 40 channels: no pieces
    ((True, True), (2, 2), 4, 12, "_input_gradient_by_col2im"),  # strides: the phases only for K <= c
    ((False, False), (1, 1), 12, 4, "_input_gradient_by_correlation"),  # K <= c: always
    ((False, False), (2, 2), 12, 4, "_input_gradient_by_phases"),
])
def test_the_input_gradient_route_follows_the_rule(pieces_pay, stride_shape, channels, kernels, expected, monkeypatch,
                                                   rng):
    monkeypatch.setattr(fast_conv, "_pieces_pay", lambda: pieces_pay)
    layer = make_conv(Conv, stride_shape, (channels, 3, 3), kernels, rng)
    layer.output_block = (1, 1)
    input_tensor = rng.standard_normal((2, channels, 6, 7))
    output = layer.forward(input_tensor)
    taken = []
    for route in ("_input_gradient_by_correlation", "_input_gradient_by_phases", "_input_gradient_by_col2im"):
        original = getattr(layer, route)
        monkeypatch.setattr(layer, route, lambda *arguments, route=route, original=original:
                            taken.append(route) or original(*arguments))
    layer.backward(rng.standard_normal(output.shape))
    assert taken == [expected]


# -- buffers, layouts, replicas ---------------------------------------------------------------


def test_reused_buffers_survive_a_deep_copy_and_repeated_calls(rng):
    """The padded input, its windows view and the columns are reused between calls; a deep copy
    made after a forward pass must still compute from its own new input, as must the original."""
    layer = make_conv(Conv, (1, 1), (2, 3, 3), 2, rng)
    first, second = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((2, 2, 5, 5))
    layer.forward(first)
    twin = copy.deepcopy(layer)
    fresh = copy.deepcopy(make_conv(Conv, (1, 1), (2, 3, 3), 2, rng))
    fresh.weights, fresh.bias = layer.weights, layer.bias
    np.testing.assert_array_equal(twin.forward(second), fresh.forward(second))
    np.testing.assert_array_equal(layer.forward(second), fresh.forward(second))
    np.testing.assert_array_equal(twin.forward(first), layer.forward(first))


@pytest.mark.parametrize("stride_shape", [(2, 1), (1, 1)])
def test_changing_sizes_with_output_blocks(stride_shape, rng):
    # With 2x2 output blocks, 7 and 8 rows (or 6 and 5 columns) need padded buffers of the
    # same shape but with different data regions: stale pixels must not leak into results.
    layer = make_conv(Conv, stride_shape, (2, 3, 4), 3, rng)
    layer.output_block = (2, 2)
    for batch, height, width in ((3, 8, 6), (5, 7, 5), (1, 8, 6), (3, 7, 6), (3, 7, 5)):
        input_tensor = rng.standard_normal((batch, 2, height, width))
        error_tensor = rng.standard_normal(teaching_twin(layer).forward(input_tensor).shape)
        assert_results(layer, input_tensor, error_tensor, expected_results(layer, input_tensor, error_tensor),
                       f"batch {batch}, image {height}x{width}")


def test_output_and_input_gradient_are_batch_last(rng):
    # (c, y, x, b) in memory: the batch axis varies fastest (see the class docstring).
    layer = make_conv(Conv, (1, 1), (2, 3, 3), 4, rng)
    output = layer.forward(rng.standard_normal((5, 2, 6, 6)))
    assert np.argmin(output.strides) == 0
    assert np.argmin(layer.backward(np.ones(output.shape)).strides) == 0


def test_replica_shares_the_weights_but_no_buffer(rng):
    layer = make_conv(Conv, (1, 1), (2, 3, 3), 2, rng)
    first, second = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((2, 2, 5, 5))
    reference = copy.deepcopy(layer)
    output = layer.forward(first)
    reference.forward(first)
    twin = layer.replica()
    assert twin.weights is layer.weights and twin.bias is layer.bias
    twin.forward(second)  # same shapes: a shared buffer would now hold the second input
    assert twin._buffers.keys() == layer._buffers.keys() >= {"padded", "tile"}
    for name, (_, buffer) in twin._buffers.items():
        assert not np.shares_memory(buffer, layer._buffers[name][1]), name
    error_tensor = rng.standard_normal(output.shape)
    np.testing.assert_array_equal(layer.backward(error_tensor), reference.backward(error_tensor))
    np.testing.assert_array_equal(layer.gradient_weights, reference.gradient_weights)
