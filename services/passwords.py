"""The password policy every path that sets a password goes through (the users page, own password, the
CLI's create-user, the users import), and the one-time passwords an admin hands out.

ASVS level 2 asks for length over composition rules: at least `MIN_PASSWORD` characters, not only digits
(a phone number or a date), not the username, and not one of the passwords every guessing list starts with.
The messages are the form's, in Chinese.
"""

from __future__ import annotations

import secrets

from flask_babel import gettext as _

from services import DomainError

MIN_PASSWORD = 10
MAX_PASSWORD = 128

# The first entries of the public leaked-password lists, and the ones a hall would think of first. Compared
# without regard to case; a password that merely contains one is fine if it is long enough otherwise.
COMMON_PASSWORDS = frozenset(
    """
    123456 123456789 12345678 1234567890 12345 1234567 123123 111111 000000 666666 888888 987654321
    1q2w3e4r 1q2w3e4r5t 1qaz2wsx 1qaz2wsx3edc qwerty qwerty123 qwertyuiop asdfghjkl zxcvbnm abc123
    abc12345 abcd1234 abcdefg123 password password1 password12 password123 passw0rd p@ssw0rd p@ssword
    admin admin123 admin1234 admin12345 administrator root123456 welcome welcome123 iloveyou
    iloveyou123 woaini1314 woaini520 5201314 aa123456 a123456789 a1234567890 qq123456 qq1234567890
    zhang123456 wang123456 li123456 test12345 test123456 changeme changeme123 letmein123 default123
    guest12345 user123456 hallscore hallscore123 zhengwu123 zhengwu2023 zhengwu2024 zhengwu2025
    dating123 gov123456 gov12345678
    """.split()
)

# One-time passwords: no 0/O, 1/l/I that a person copying from a screen would confuse.
_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
ONE_TIME_LENGTH = 12


def password_problem(password: str | None, username: str = "") -> str | None:
    """What is wrong with `password` for the user `username`, as a Chinese sentence; None if it will do."""
    password = password or ""
    if len(password) < MIN_PASSWORD:
        return _("密码至少 %(n)d 位", n=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        return _("密码不能超过 %(n)d 位", n=MAX_PASSWORD)
    if password.isdigit():
        return _("密码不能全是数字")
    if len(set(password)) < 3:
        return _("密码不能由同一两个字符重复组成")
    lowered = password.lower()
    if username and lowered == username.strip().lower():
        return _("密码不能与用户名相同")
    if lowered in COMMON_PASSWORDS:
        return _("这个密码太常见,容易被猜到,请换一个")
    return None


def check_password_policy(password: str | None, username: str = "") -> str:
    """`password` if the policy accepts it; else DomainError with the reason."""
    problem = password_problem(password, username)
    if problem:
        raise DomainError(problem)
    return password


def one_time_password() -> str:
    """A random temporary password the policy accepts (its holder must change it at first login)."""
    while True:
        candidate = "".join(secrets.choice(_ALPHABET) for _ in range(ONE_TIME_LENGTH))
        if password_problem(candidate) is None:
            return candidate
