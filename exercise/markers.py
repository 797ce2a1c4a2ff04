"""Solution markers: find the blocks a student writes and replace them by a stub.

A solution block is the lines between two comment lines that read exactly

    # BEGIN SOLUTION
    ...
    # END SOLUTION

(nbgrader's convention), each alone on its line, both at the indentation of the code
they enclose. ``strip_solutions`` replaces every block, markers included, by one line
at that indentation,

    raise NotImplementedError("FullyConnected.forward: implement it (see the docstring)")

naming the function or method around it, so a student who runs unfinished code is told
where to work. Everything else (docstrings, signatures, the bookkeeping around a block)
stays as it is. The work is line-based on the exact marker lines, never on tokens, and
the result is compiled to prove it is still Python.
"""
import ast
import json

BEGIN_MARKER = "# BEGIN SOLUTION"
END_MARKER = "# END SOLUTION"


class MarkerError(ValueError):
    """Markers that do not pair up, or a stripped file that no longer compiles."""


def solution_blocks(lines, name):
    """``(begin, end)`` line indices (0-based, inclusive) of every solution block in ``lines``."""
    blocks, begin = [], None
    for index, line in enumerate(lines):
        text = line.strip()
        if text == BEGIN_MARKER:
            if begin is not None:
                raise MarkerError(f"{name}, line {index + 1}: {BEGIN_MARKER} inside the block that "
                                  f"began on line {begin + 1}; blocks do not nest")
            begin = index
        elif text == END_MARKER:
            if begin is None:
                raise MarkerError(f"{name}, line {index + 1}: {END_MARKER} without a {BEGIN_MARKER} before it")
            if _indentation(line) != _indentation(lines[begin]):
                raise MarkerError(f"{name}, line {index + 1}: {END_MARKER} is indented differently "
                                  f"from the {BEGIN_MARKER} on line {begin + 1}")
            blocks.append((begin, index))
            begin = None
    if begin is not None:
        raise MarkerError(f"{name}, line {begin + 1}: {BEGIN_MARKER} without an {END_MARKER}")
    return blocks


def has_solutions(source):
    return any(line.strip() == BEGIN_MARKER for line in source.splitlines())


def strip_solutions(source, name, outside_functions="your code here (see the text above)"):
    """``source`` with every solution block replaced by ``raise NotImplementedError(...)``.

    The message names the enclosing function (``Class.method: implement it (see the
    docstring)``); a block outside any function gets ``outside_functions``. Raises
    MarkerError naming ``name`` and the line for unpaired markers or a result that
    does not compile.
    """
    lines = source.splitlines(keepends=True)
    blocks = solution_blocks(lines, name)
    if not blocks:
        return source
    functions = _functions_by_line(source, name)
    stripped, position = [], 0
    for begin, end in blocks:
        stripped.extend(lines[position:begin])
        owner = _innermost(functions, begin + 1)
        message = f"{owner}: implement it (see the docstring)" if owner else outside_functions
        stripped.append(f"{_indentation(lines[begin])}raise NotImplementedError({json.dumps(message, ensure_ascii=False)})\n")
        position = end + 1
    stripped.extend(lines[position:])
    result = "".join(stripped)
    try:
        compile(_without_magics(result), name, "exec", dont_inherit=True)
    except SyntaxError as error:
        raise MarkerError(f"{name}: the student version does not compile (line {error.lineno}: "
                          f"{error.msg}); put the markers around whole statements") from None
    return result


def _indentation(line):
    return line[:len(line) - len(line.lstrip())]


def _without_magics(source):
    """A notebook cell's source with IPython's ``%magic`` and ``!shell`` lines commented out,
    so that ``ast`` and ``compile`` read it (line numbers unchanged)."""
    return "".join("#" + line if line.lstrip().startswith(("%", "!")) else line
                   for line in source.splitlines(keepends=True))


def _functions_by_line(source, name):
    """(first line, last line, qualified name) of every function and method in ``source``."""
    try:
        tree = ast.parse(_without_magics(source), filename=name)
    except SyntaxError as error:
        raise MarkerError(f"{name}: cannot read the solution file (line {error.lineno}: {error.msg})") from None
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qualified = prefix + child.name
                found.append((child.lineno, child.end_lineno, qualified))
                visit(child, qualified + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _innermost(functions, line_number):
    around = [(first, qualified) for first, last, qualified in functions if first <= line_number <= last]
    return max(around)[1] if around else None
