from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from services.passwords import MIN_PASSWORD


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(message=_l("请输入用户名"))])
    password = PasswordField(_l("密码"), validators=[DataRequired(message=_l("请输入密码"))])


class PasswordForm(FlaskForm):
    current = PasswordField(_l("当前密码"), validators=[DataRequired(message=_l("请输入当前密码"))])
    new = PasswordField(
        _l("新密码"),
        validators=[
            DataRequired(message=_l("请输入新密码")),
            Length(min=MIN_PASSWORD, message=_l("新密码至少 %(n)d 位", n=MIN_PASSWORD)),
        ],
    )
    confirm = PasswordField(
        _l("再次输入新密码"), validators=[EqualTo("new", message=_l("两次输入的新密码不一致"))]
    )
