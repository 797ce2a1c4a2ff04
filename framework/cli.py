"""The ``normnet`` command line (also ``python -m framework``).

    normnet train [options]            train the modified LeNet on MNIST
    normnet eval CHECKPOINT            test accuracy and confusion matrix of a saved network
    normnet data fetch                 find or download MNIST, verify it, print where it is
    normnet compare [options]          Norm Loss against L1/L2: a grid of runs, results and figures
"""
import argparse
import math
import os
import signal
import sys
import threading
from pathlib import Path

import numpy as np


def integer_at_least(minimum):
    """An argparse type: an integer >= ``minimum`` (also for the commands that plug into ``normnet``)."""
    expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value
    return parse


def number_in(low, low_open, high=math.inf, high_open=True):
    """An argparse type: a finite number in the interval, checked by the optimizers' own
    ``check_hyperparameter`` (one validator for hyperparameters, in code and on the command line)."""
    from optimizers.optimizer import check_hyperparameter

    def parse(text):
        try:
            return check_hyperparameter("", "value", text, low, high, low_open, high_open)
        except (TypeError, ValueError) as error:
            # "…: value must be finite and in (0, inf], got -1.0" → "must be …, got -1.0"
            raise argparse.ArgumentTypeError(str(error).split("value ", 1)[-1]) from None
    return parse


def _add_train_parser(subparsers):
    from data import DATASETS
    from framework.models import MODELS
    from layers.initializers import INITIALIZERS
    from optimizers import OPTIMIZERS
    from regularizers import REGULARIZERS
    from framework.training import TrainConfig

    # The settings' options default to None, "not given": a new run takes TrainConfig's defaults
    # for them, a resumed run its checkpoint's, and a given option must agree with the checkpoint.
    defaults = TrainConfig()
    parser = subparsers.add_parser("train", help="train the modified LeNet on MNIST",
                                   description="Train the modified LeNet on MNIST. After every epoch: "
                                               "test accuracy, metrics.csv, curves.png and a checkpoint "
                                               "in --output-dir. The last line printed is the test accuracy. "
                                               "With --resume, the settings are the checkpoint's.")
    parser.add_argument("--epochs", type=integer_at_least(1), help=f"(default {defaults.epochs})")
    parser.add_argument("--batch-size", type=integer_at_least(1), help=f"(default {defaults.batch_size})")
    parser.add_argument("--learning-rate", "--lr", type=number_in(0, True),
                        help=f"(default {defaults.learning_rate:g})")
    parser.add_argument("--lr-decay", type=number_in(0, True, 1, False),
                        help=f"multiply the learning rate by this factor after every epoch (default {defaults.lr_decay:g})")
    parser.add_argument("--optimizer", choices=list(OPTIMIZERS), help=f"(default {defaults.optimizer})")
    parser.add_argument("--regularizer", choices=list(REGULARIZERS), help=f"(default {defaults.regularizer})")
    parser.add_argument("--alpha", type=number_in(0, False),
                        help=f"regularization factor (default {defaults.alpha:g})")
    parser.add_argument("--coupled", action="store_true", default=None,
                        help="apply the regularizer's gradient through the optimizer's momentum or moments "
                             "(the Norm Loss paper's form) instead of as decoupled shrinkage (the default)")
    parser.add_argument("--dropout", type=number_in(0, True, 1, False),
                        help="keep probability of dropout after the hidden fully connected layers of the LeNet "
                             "(default: no dropout)")
    parser.add_argument("--batch-norm", action="store_true", default=None,
                        help="batch normalization after each convolution of the LeNet")
    parser.add_argument("--teaching-layers", dest="fast", action="store_false", default=None,
                        help="build the network from the teaching layers (layers) instead of the fast ones")
    parser.add_argument("--dtype", choices=["float32", "float64"], help=f"(default {defaults.dtype})")
    parser.add_argument("--initializer", choices=list(INITIALIZERS), help=f"(default {defaults.initializer})")
    parser.add_argument("--model", choices=list(MODELS), help=f"(default {defaults.model})")
    parser.add_argument("--dataset", choices=list(DATASETS), help=f"(default {defaults.dataset})")
    parser.add_argument("--validation-size", type=integer_at_least(0),
                        help="images carved from the end of the training set to evaluate on after each epoch "
                             f"(default {defaults.validation_size})")
    parser.add_argument("--train-size", type=integer_at_least(1),
                        help="train on the first N training images only (default: all)")
    parser.add_argument("--seed", type=integer_at_least(0), help=f"(default {defaults.seed})")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder holding the four IDX files (default: $NORMNET_DATA, the cache, or a download)")
    parser.add_argument("--output-dir", type=Path, default=Path("runs/lenet"))
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --output-dir with its checkpoint's settings (an option given "
                             "must agree with them; --epochs may add epochs)")
    parser.add_argument("--force", action="store_true",
                        help="replace the run in --output-dir (its checkpoint, metrics, curves and config) once "
                             "the new run has saved its first checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_train)


def _train(arguments):
    from framework.training import TrainConfig, given_settings, train

    config = TrainConfig.from_arguments(arguments)
    try:
        _, _, test_accuracy = train(config, arguments.output_dir, data_dir=arguments.data_dir,
                                    resume=arguments.resume, force=arguments.force,
                                    progress=None if not arguments.no_progress else False,
                                    given=given_settings(arguments))
    except FloatingPointError as error:
        print(f"normnet train: training stopped: {error}", file=sys.stderr)
        return 1
    print(f"test accuracy: {test_accuracy:.4f}")
    return 0


DATA_DIR_HELP = ("folder holding the four IDX files, in it or in a subfolder named after the dataset; an error "
                 "when it does not (default: $NORMNET_DATA or $NORMNET_FASHION_DATA, the cache, or a download)")


def _add_eval_parser(subparsers):
    from data import DATASETS

    parser = subparsers.add_parser("eval", help="evaluate a saved network on the test set",
                                   description="Print test accuracy and the confusion matrix of a checkpoint.")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--data-dir", type=Path, default=None, help=DATA_DIR_HELP)
    parser.add_argument("--dataset", choices=list(DATASETS), default=None,
                        help="the test set to score (default: the one the checkpoint was trained on, else mnist)")
    parser.add_argument("--misclassified", type=Path, default=None, metavar="PNG",
                        help="save a picture of misclassified test images (a .png file; one normnet eval wrote "
                             "is replaced, any other file is not)")
    parser.set_defaults(handler=_eval)


def confusion_matrix(labels, predictions, classes=10):
    """Counts[i, j] = number of images of class i predicted as class j."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def _eval(arguments):
    from data import load_dataset
    from framework.persistence import read_checkpoint

    if arguments.misclassified is not None:
        check_picture_path(arguments.misclassified)
    network, extra = read_checkpoint(arguments.checkpoint)
    dataset_name, why = _evaluation_dataset(arguments.checkpoint, extra, arguments.dataset)
    dtype = next((layer.dtype for layer in network.layers if layer.trainable), np.float64)
    dataset = load_dataset(dataset_name, data_dir=arguments.data_dir, dtype=dtype)
    scores = network.test_in_chunks(dataset.test_images)
    if scores.ndim != 2 or scores.shape[1] != dataset.num_classes:
        # Class indices beyond the dataset's would index past the confusion matrix.
        outputs = "x".join(str(length) for length in scores.shape[1:])
        raise ValueError(f"{arguments.checkpoint}: the network has {outputs} outputs per image, but "
                         f"{dataset.name} has {dataset.num_classes} classes")
    predictions = scores.argmax(axis=1)
    matrix = confusion_matrix(dataset.test_labels, predictions, dataset.num_classes)
    print(f"{dataset.name} test set ({why})")
    print("confusion matrix (rows: true class, columns: predicted class)")
    print("      " + " ".join(f"{column:5d}" for column in range(dataset.num_classes)))
    for row_index, row in enumerate(matrix):
        print(f"{row_index:5d} " + " ".join(f"{count:5d}" for count in row))
    if arguments.misclassified is not None:
        save_misclassified(arguments.misclassified, dataset.test_images, dataset.test_labels, predictions)
        print(f"misclassified images saved to {arguments.misclassified}")
    print(f"test accuracy: {np.mean(predictions == dataset.test_labels):.4f}")
    return 0


def _evaluation_dataset(checkpoint, extra, asked):
    """``(dataset name, why that one)``: the one asked for, else the one the checkpoint's run trained on
    (``extra.config.dataset``, written by ``normnet train``), else MNIST."""
    from data import DATASETS
    from framework.persistence import CheckpointError, field_error

    config = extra.get("config")
    named = config.get("dataset") if isinstance(config, dict) else None
    if named is not None and named not in DATASETS:
        expected = "one of " + ", ".join(f'"{name}"' for name in DATASETS)
        raise CheckpointError(f"{checkpoint}: {field_error('extra.config.dataset', expected, named)}")
    if asked is not None:
        trained = f"; the checkpoint was trained on {named}" if named not in (None, asked) else ""
        return asked, f"asked for with --dataset{trained}"
    if named is not None:
        return named, "the dataset the checkpoint names"
    return "mnist", "the default: the checkpoint names no dataset"


PICTURE_MARK = "normnet eval"
"""The PNG text chunk ``Software`` of the pictures normnet eval writes: the mark of a file it may replace."""


def check_picture_path(path):
    """Refuse a ``--misclassified`` path that is no ``.png`` file name, or that names a folder, a
    special file or a file normnet eval did not write; before anything is evaluated."""
    from data.files import NotRegularFileError, open_regular

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"--misclassified: expected the name of a .png file, got {path}")
    if not os.path.lexists(path):
        return
    try:
        with open_regular(path) as stream:
            head = stream.read(65536)
    except NotRegularFileError as error:
        raise ValueError(f"--misclassified: {path}: {error}") from None
    if _png_text(head).get("Software") != PICTURE_MARK:
        raise ValueError(f"--misclassified: {path} was not written by normnet eval, and normnet never replaces "
                         f"a file it did not write; name another file")


def _png_text(head):
    """The ``tEXt`` chunks before the image data of the PNG whose first bytes are ``head``, as a dict."""
    text = {}
    if not head.startswith(b"\x89PNG\r\n\x1a\n"):
        return text
    position = 8
    while position + 8 <= len(head):
        length = int.from_bytes(head[position:position + 4], "big")
        kind = head[position + 4:position + 8]
        if kind == b"IDAT":
            break
        if kind == b"tEXt":
            key, _, value = head[position + 8:position + 8 + length].partition(b"\0")
            text[key.decode("latin-1")] = value.decode("latin-1")
        position += 12 + length
    return text


def save_misclassified(path, images, labels, predictions, count=36):
    """A grid of up to ``count`` misclassified images titled 'true → predicted'."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wrong = np.flatnonzero(predictions != labels)[:count]
    columns = 6
    rows = max(1, math.ceil(len(wrong) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.6, rows * 1.8), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, index in zip(axes.flat, wrong):
        axis.imshow(images[index].reshape(28, 28), cmap="gray_r")
        axis.set_title(f"{labels[index]} → {predictions[index]}", fontsize=10)
    figure.suptitle("misclassified test images (true → predicted)")
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=100, metadata={"Software": PICTURE_MARK})
    plt.close(figure)


def _add_data_parser(subparsers):
    from data import DATASETS

    parser = subparsers.add_parser("data", help="dataset management")
    data_commands = parser.add_subparsers(dest="data_command", required=True)
    fetch = data_commands.add_parser("fetch", help="find or download a dataset, verify it, print its folder")
    fetch.add_argument("--dataset", choices=list(DATASETS), default="mnist")
    fetch.add_argument("--data-dir", type=Path, default=None, help=DATA_DIR_HELP)
    fetch.set_defaults(handler=_fetch)


def _fetch(arguments):
    from data import fetch

    folder = fetch(arguments.dataset, data_dir=arguments.data_dir)
    print(f"{arguments.dataset}: verified files in {folder}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="normnet", description="normnet: a NumPy deep-learning framework "
                                     "for teaching and for research on weight regularization.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_train_parser(subparsers)
    _add_eval_parser(subparsers)
    _add_data_parser(subparsers)
    for add_command_parser in _plugin_commands():
        add_command_parser(subparsers)
    return parser


def _plugin_commands():
    """The ``add_parser(subparsers)`` functions of the commands that packages above the framework
    register under the entry-point group ``normnet.commands`` (the Norm Loss study's
    ``compare``, the exercise tools' ``exercise``): the framework runs them without
    importing them by name, so imports keep running one way, from those packages down."""
    from importlib.metadata import entry_points

    return [entry_point.load() for entry_point in sorted(entry_points(group="normnet.commands"),
                                                          key=lambda entry_point: entry_point.name)]


def main(argv=None):
    command = None
    try:
        if threading.current_thread() is threading.main_thread():
            # Until here framework.entry ends the process on a Ctrl-C; from here on it raises
            # KeyboardInterrupt, answered below.
            signal.signal(signal.SIGINT, signal.default_int_handler)
        from data import DataError
        from framework.memory import keep_freed_memory
        from framework.training import RunFolderError

        arguments = build_parser().parse_args(argv)
        command = arguments.command
        keep_freed_memory()  # this process trains or evaluates: no page faults for every new array
        return arguments.handler(arguments)
    except KeyboardInterrupt as interruption:
        # Ctrl-C: one line (what is saved, when train knows), never a traceback.
        detail = f": {interruption}" if str(interruption) else ""
        print(f"normnet{' ' + command if command else ''}: interrupted{detail}", file=sys.stderr)
        return 128 + signal.SIGINT      # the shell's convention for a Ctrl-C
    except (ValueError, OSError, DataError, RunFolderError) as error:
        # Bad values, corrupt or foreign files, failed downloads: one clear line, no traceback.
        print(f"normnet {command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
