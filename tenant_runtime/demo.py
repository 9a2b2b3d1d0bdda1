"""Demo and volume data for a tenant's CRM.

``seed_demo`` gives a newcomer a company that looks lived in: departments, a user in each built-in
role, a few hundred customers with contacts, follow-ups over the last three months and follow-ups due
today. ``fill_volume`` adds synthetic rows fast (bulk inserts in chunks, no ORM) for benchmarks: a
million customers and three million follow-ups in one MariaDB tenant.
"""

import random
from datetime import timedelta

from sqlalchemy import func, insert, select
from werkzeug.security import generate_password_hash

from .contacts.models import CrmContact
from .customers.models import CrmCustomer, CrmCustomerTag
from .customers.services import name_key
from .followups.models import CrmFollowUp
from .models import SysDept, SysUser, utcnow
from .people.models import SysUserRole
from .people.roles import ensure_builtin_roles

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰",
         "霞", "平", "刚", "桂英", "建华", "文", "华", "红", "志强", "晓东", "海燕", "丹", "鑫", "宇", "浩然", "子涵", "梓萱"]
CITIES = [("31", "3100", "上海"), ("11", "1100", "北京"), ("44", "4401", "广州"), ("44", "4403", "深圳"),
          ("33", "3301", "杭州"), ("32", "3201", "南京"), ("51", "5101", "成都"), ("42", "4201", "武汉"),
          ("61", "6101", "西安"), ("50", "5000", "重庆")]
WORDS = ["华庭", "锦绣", "金地", "万科", "绿城", "雅居", "恒泰", "新城", "中海", "碧桂", "嘉禾", "丰泽", "瑞祥", "鸿运",
         "天悦", "盛世", "和美", "安居", "宏图", "星河", "阳光", "龙湖", "保利", "融创", "世茂", "旭辉", "招商", "金茂"]
KINDS = [("物业管理", "real_estate"), ("置业", "real_estate"), ("科技", "it"), ("商贸", "retail"), ("酒店管理", "hospitality"),
         ("医疗器械", "health"), ("教育科技", "education"), ("实业", "manufacturing"), ("物流", "logistics")]
TAGS = ["重点", "老客户", "转介绍", "年度合同", "意向强", "价格敏感", "待报价"]
TALKS = ["电话沟通了物业服务需求，客户关注保洁和安保的响应时间。", "上门拜访，参观了小区的智慧门禁，客户比较满意。",
         "微信发送了报价方案，客户表示需要内部讨论。", "客户反馈对方案中的收费标准有疑问，约定下周再谈。",
         "邮件发送了合同草案，等待法务审核。", "回访了上次的维修工单，客户满意度较高。", "客户提出增加绿化养护的服务内容。",
         "沟通了续签事宜，客户希望价格保持不变。"]
POSITIONS = ["总经理", "物业经理", "行政主管", "采购经理", "财务总监", "办公室主任", "业委会主任"]


MOBILE_PREFIXES = ("130", "131", "135", "136", "137", "138", "139", "150", "151", "158", "159", "176", "177", "180",
                   "186", "188", "189", "199")


def _name(rng):
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _mobile(rng, used):
    while True:
        number = f"+86{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
        if number not in used:
            used.add(number)
            return number


DEMO_PASSWORD_USERS = ("admin", "manager", "sales1", "sales2", "service")


def seed_demo(session, password, customers=300, seed=2026):
    """Fill an empty tenant with demo people and customers; returns the demo users' usernames."""
    rng = random.Random(seed)
    now = utcnow()
    conn = session.connection()
    roles = ensure_builtin_roles(conn)
    root = session.scalar(select(SysDept).where(SysDept.parent_id.is_(None)).order_by(SysDept.id))
    sales = SysDept(dept_name="销售部", parent_id=root.id, sort=1)
    service = SysDept(dept_name="客服部", parent_id=root.id, sort=2)
    session.add_all([sales, service])
    session.flush()
    group1 = SysDept(dept_name="销售一组", parent_id=sales.id, sort=1)
    group2 = SysDept(dept_name="销售二组", parent_id=sales.id, sort=2)
    session.add_all([group1, group2])
    session.flush()
    hashed = generate_password_hash(password)
    people = [("manager", "王建国", sales.id, "sales_manager"), ("sales1", "李晓东", group1.id, "sales"),
              ("sales2", "张海燕", group2.id, "sales"), ("sales3", "刘洋", group1.id, "sales"),
              ("service", "赵敏", service.id, "service")]
    users = {}
    for username, full_name, dept_id, role in people:
        user = SysUser(username=username, full_name=full_name, dept_id=dept_id, password_hash=hashed,
                       phone=f"+86139{rng.randrange(10**8):08d}", email=f"{username}@demo.example")
        session.add(user)
        session.flush()
        session.add(SysUserRole(user_id=user.id, role_id=roles[role]))
        users[username] = user
    admin = session.scalar(select(SysUser).where(SysUser.username == "admin"))
    admin.password_hash = hashed
    owners = [users["sales1"], users["sales2"], users["sales3"], users["manager"]]
    used_phones = set()
    for i in range(customers):
        owner = rng.choice(owners)
        province, city, city_name = rng.choice(CITIES)
        word, (kind, industry) = rng.choice(WORDS), rng.choice(KINDS)
        enterprise = rng.random() < 0.8
        name = f"{city_name}{word}{kind}有限公司" if enterprise else _name(rng)
        if enterprise and i % 7 == 0:
            name = f"{city_name}{word}{kind}{rng.choice(['服务', '集团', '发展'])}有限公司"
        created = now - timedelta(days=rng.randrange(1, 180), minutes=rng.randrange(1440))
        customer = CrmCustomer(
            customer_type="enterprise" if enterprise else "individual", customer_name=name, name_key=name_key(name),
            phone=_mobile(rng, used_phones), industry=industry if enterprise else None,
            scale=rng.choice(["lt50", "50_199", "200_999", "1000_plus"]) if enterprise else None,
            province_code=province, city_code=city, address=f"{rng.choice(['人民路', '建设路', '解放大道', '中山路'])}{rng.randrange(1, 999)}号",
            level=rng.choices(["important", "normal", "potential"], [2, 5, 3])[0],
            deal_status=rng.choices(["potential", "won", "lost"], [6, 3, 1])[0],
            source=rng.choice(["website", "exhibition", "referral", "cold_call", "advertising", "wechat"]),
            owner_id=owner.id, dept_id=owner.dept_id, created_by=owner.id, created_at=created, updated_at=created)
        customer.tags = [CrmCustomerTag(tag=t) for t in rng.sample(TAGS, rng.randrange(0, 3))]
        session.add(customer)
        session.flush()
        for k in range(rng.randrange(1, 4)):
            session.add(CrmContact(customer_id=customer.id, contact_name=_name(rng), position=rng.choice(POSITIONS),
                                   phone=_mobile(rng, used_phones), wechat=f"wx_{rng.randrange(10**6):06d}",
                                   is_key=k == 0, primary_marker=1 if k == 0 else None, owner_id=owner.id,
                                   created_by=owner.id, created_at=created, updated_at=created))
        last = None
        times = sorted(min(now, created + timedelta(days=rng.randrange(0, max(1, (now - created).days)),
                                                    hours=rng.randrange(9, 18))) for _ in range(rng.randrange(0, 6)))
        for at in times:
            session.add(CrmFollowUp(relation_type="customer", relation_id=customer.id,
                                    follow_type=rng.choice(["phone", "visit", "wechat", "email"]),
                                    content=rng.choice(TALKS), created_by=owner.id, created_at=at, updated_at=at))
            last = max(last or at, at)
        customer.last_follow_up_at = last
        roll = rng.random()
        if roll < 0.1:
            customer.next_follow_up_at = now - timedelta(days=rng.randrange(1, 10))  # overdue
        elif roll < 0.2:
            customer.next_follow_up_at = now + timedelta(hours=rng.randrange(1, 6))  # today, mostly
        elif roll < 0.6:
            customer.next_follow_up_at = now + timedelta(days=rng.randrange(1, 30))
    return [u for u in DEMO_PASSWORD_USERS]


def has_customers(session):
    return session.scalar(select(func.count(CrmCustomer.id))) > 0


# ---------------------------------------------------------------------- volume


def fill_volume(conn, customers, follow_ups, chunk=5000, progress=None, seed=7):
    """Bulk-insert synthetic customers (owners spread over the sales users, in their departments) and
    follow-ups. Plain Core inserts in chunks, committed per chunk, so a million rows take minutes, not
    hours. ``progress(n)`` is called with the rows added."""
    rng = random.Random(seed)
    owners = conn.execute(select(SysUser.id, SysUser.dept_id).where(SysUser.status == 1)).all()
    if not owners:
        raise RuntimeError("the tenant has no users to own customers")
    start = (conn.execute(select(func.max(CrmCustomer.id))).scalar() or 0) + 1
    now = utcnow()
    customer_table, follow_table = CrmCustomer.__table__, CrmFollowUp.__table__
    levels, statuses = ["important", "normal", "potential"], ["potential", "won", "lost"]
    made = 0
    while made < customers:
        rows = []
        for i in range(start + made, start + min(customers, made + chunk)):
            owner_id, dept_id = owners[i % len(owners)]
            created = now - timedelta(minutes=(customers - (i - start)) * 3)
            name = f"{WORDS[i % len(WORDS)]}{KINDS[i % len(KINDS)][0]}{i}号有限公司"
            last = created + timedelta(days=rng.randrange(0, 60)) if rng.random() < 0.7 else None
            rows.append({"customer_name": name, "name_key": name_key(name), "customer_type": "enterprise",
                         "phone": f"+8617{i:09d}", "level": levels[rng.randrange(3)], "status": "active",
                         "deal_status": statuses[rng.randrange(3)], "owner_id": owner_id, "dept_id": dept_id,
                         "created_by": owner_id, "created_at": created, "updated_at": created,
                         "last_follow_up_at": min(last, now) if last else None})
        conn.execute(insert(customer_table), rows)
        conn.commit()
        made += len(rows)
        if progress:
            progress(len(rows))
    first_id, last_id = start, start + customers - 1
    made = 0
    while made < follow_ups:
        rows = []
        for _ in range(min(chunk, follow_ups - made)):
            customer_id = rng.randrange(first_id, last_id + 1)
            at = now - timedelta(minutes=rng.randrange(0, 60 * 24 * 365))
            rows.append({"relation_type": "customer", "relation_id": customer_id, "follow_type": "phone",
                         "content": TALKS[customer_id % len(TALKS)], "created_by": owners[customer_id % len(owners)][0],
                         "created_at": at, "updated_at": at})
        conn.execute(insert(follow_table), rows)
        conn.commit()
        made += len(rows)
        if progress:
            progress(len(rows))
    return customers, follow_ups

