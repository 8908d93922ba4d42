"""``python -m course_lib.bench {ref,nn,gpu,grading}``: dispatch to the benchmark suites."""
import importlib
import sys

SUITES = {"ref": "course_lib.bench.ref", "nn": "course_lib.bench.nn", "gpu": "course_lib.bench.gpu",
          "grading": "course_lib.bench.grading"}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in SUITES:
        print(f"usage: python -m course_lib.bench {{{','.join(SUITES)}}} [options]", file=sys.stderr)
        return 2
    mod = importlib.import_module(SUITES[argv[0]])
    return mod.main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
