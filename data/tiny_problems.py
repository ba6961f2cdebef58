"""A small embedded problem set written for this project: prompts, reference solutions and assert tests.

Used by the tiny RL config and by tests, so RL and the harness run with no dataset download. Each row has the
evalplus-like fields task_id, prompt, entry_point, canonical_solution and `tests` (assert statements).
"""

from __future__ import annotations

_ROWS = [
    ("add", "def add(a, b):\n    \"\"\"Return a + b.\"\"\"\n", "    return a + b\n",
     ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(10, 5) == 15"]),
    ("square", "def square(x):\n    \"\"\"Return x squared.\"\"\"\n", "    return x * x\n",
     ["assert square(3) == 9", "assert square(-2) == 4", "assert square(0) == 0"]),
    ("is_even", "def is_even(n):\n    \"\"\"Return True if n is even.\"\"\"\n", "    return n % 2 == 0\n",
     ["assert is_even(2)", "assert not is_even(3)", "assert is_even(0)"]),
    ("max_of", "def max_of(xs):\n    \"\"\"Return the largest element of a non-empty list.\"\"\"\n",
     "    best = xs[0]\n    for x in xs:\n        if x > best:\n            best = x\n    return best\n",
     ["assert max_of([1, 3, 2]) == 3", "assert max_of([-5]) == -5", "assert max_of([2, 2]) == 2"]),
    ("reverse", "def reverse(s):\n    \"\"\"Return the string s reversed.\"\"\"\n", "    return s[::-1]\n",
     ["assert reverse('abc') == 'cba'", "assert reverse('') == ''", "assert reverse('a') == 'a'"]),
    ("count_vowels", "def count_vowels(s):\n    \"\"\"Return the number of vowels (aeiou) in s.\"\"\"\n",
     "    return sum(1 for c in s if c in 'aeiou')\n",
     ["assert count_vowels('hello') == 2", "assert count_vowels('xyz') == 0", "assert count_vowels('aei') == 3"]),
    ("factorial", "def factorial(n):\n    \"\"\"Return n! for n >= 0.\"\"\"\n",
     "    result = 1\n    for i in range(2, n + 1):\n        result *= i\n    return result\n",
     ["assert factorial(0) == 1", "assert factorial(5) == 120", "assert factorial(3) == 6"]),
    ("sum_list", "def sum_list(xs):\n    \"\"\"Return the sum of the numbers in xs.\"\"\"\n", "    return sum(xs)\n",
     ["assert sum_list([1, 2, 3]) == 6", "assert sum_list([]) == 0", "assert sum_list([-1, 1]) == 0"]),
    ("first_word", "def first_word(s):\n    \"\"\"Return the first whitespace-separated word of s.\"\"\"\n",
     "    return s.split()[0]\n",
     ["assert first_word('hello world') == 'hello'", "assert first_word('  a b') == 'a'", "assert first_word('x') == 'x'"]),
    ("clamp", "def clamp(x, lo, hi):\n    \"\"\"Return x limited to the range [lo, hi].\"\"\"\n",
     "    return max(lo, min(x, hi))\n",
     ["assert clamp(5, 0, 3) == 3", "assert clamp(-1, 0, 3) == 0", "assert clamp(2, 0, 3) == 2"]),
    ("is_palindrome", "def is_palindrome(s):\n    \"\"\"Return True if s reads the same backwards.\"\"\"\n",
     "    return s == s[::-1]\n",
     ["assert is_palindrome('aba')", "assert not is_palindrome('ab')", "assert is_palindrome('')"]),
    ("fib", "def fib(n):\n    \"\"\"Return the n-th Fibonacci number (fib(0) = 0, fib(1) = 1).\"\"\"\n",
     "    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
     ["assert fib(0) == 0", "assert fib(1) == 1", "assert fib(10) == 55"]),
]

TINY_PROBLEMS: list[dict] = [
    {"task_id": f"tiny/{i}", "prompt": prompt, "entry_point": name, "canonical_solution": solution, "tests": tests}
    for i, (name, prompt, solution, tests) in enumerate(_ROWS)
]
