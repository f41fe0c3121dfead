"""Progress of long computations: a tqdm bar when tqdm is installed, plain lines otherwise."""

import sys


def progress(iterable, *, total, description, verbose):
    """Iterate over ``iterable``, reporting progress when ``verbose`` is set.

    Parameters
    ----------
    iterable : iterable
        The work items.
    total : int
        Number of items.
    description : str
        What is being done, shown before the count.
    verbose : int
        0: silent. Otherwise a tqdm bar (``pip install tqdm``) or, without tqdm, a line
        on standard error about every tenth of the way.
    """
    if not verbose or total <= 1:
        yield from iterable
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:
        step = max(1, total // 10)
        for done, item in enumerate(iterable, 1):
            yield item
            if done % step == 0 or done == total:
                print(f"{description}: {done}/{total}", file=sys.stderr, flush=True)
    else:
        yield from tqdm(iterable, total=total, desc=description, leave=False)
