"""How many components a run keeps: the default, lowered on a small input with a note; an
explicit --k kept and checked; --variance choosing it from the data."""
import pytest

from bigfruits.errors import InputError
from bigfruits.pipeline.config import DEFAULT_K, RunConfig

pytestmark = pytest.mark.pure


def test_default_k_on_a_large_input_says_nothing() -> None:
    assert RunConfig().components(DEFAULT_K + 1) == (DEFAULT_K, "")


@pytest.mark.parametrize("images", [2, 30, DEFAULT_K])
def test_default_k_on_a_small_input_is_one_less_than_the_images(images) -> None:
    k, note = RunConfig().components(images, "images selected")
    assert k == images - 1
    assert note == (f"k={images - 1} components: the default {DEFAULT_K} is more than {images} images "
                    "selected can give (--k N chooses)")


def test_an_explicit_k_is_kept_or_refused() -> None:
    assert RunConfig(k=30).components(30) == (30, "")
    with pytest.raises(InputError) as raised:
        RunConfig(k=31).components(30, "images featurized")
    assert raised.value.what == "--k 31 is more than the 30 images featurized"


def test_variance_lets_the_fit_choose_and_one_image_is_too_few() -> None:
    assert RunConfig(variance=0.9).components(5) == (None, "")
    with pytest.raises(InputError, match="a PCA needs at least 2 images"):
        RunConfig().components(1)
