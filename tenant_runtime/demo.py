"""Demo and volume data for a tenant's CRM.

``seed_demo`` gives a newcomer a company that looks lived in: departments, a user in each built-in
role, a few hundred customers with contacts, follow-ups over the last three months and follow-ups due
today; leads, owned and waiting in the public and a department's lead pool, with their own follow-ups;
and a recycling rule that the real recycling run has applied, so the public pool (公海) holds the
customers nobody followed up for too long, each with the rule and the days that put it there.
``fill_volume`` adds synthetic rows fast (bulk inserts in chunks, no ORM) for benchmarks: a million
customers and three million follow-ups in one MariaDB tenant.
"""

import random
import secrets
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, insert, select, update
from werkzeug.security import generate_password_hash

from .contacts.models import CONTACT_WORDS, CrmContact, CrmContactWord
from .core.models import CrmChangeLog
from .core.pinyin import pinyin_key
from .customers.models import CUSTOMER_WORDS, CrmCustomer, CrmCustomerTag, CrmCustomerWord
from .customers.services import name_key
from .followups.models import CrmFollowUp
from .leads.models import STATUS_FOLLOWING, STATUS_NEW, CrmLead, CrmLeadPool
from .leads.services import default_pool
from .models import SysDept, SysUser, utcnow
from .people.models import SysUserRole
from .people.roles import ensure_builtin_roles
from .pool import services as pool_services

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
LEAD_NEEDS = ["写字楼保洁外包", "住宅小区整体物业", "园区安保服务", "商场设施维保", "医院后勤托管", "学校食堂与保洁",
              "停车场智慧化改造", "绿化养护"]
LEAD_TALKS = ["电话初次沟通，对方在比较三家物业公司的报价。", "添加了微信，发送了公司介绍和案例。",
              "对方负责人出差，约定下周回电。", "已发送服务方案，对方关注费用明细。"]
# The demo's recycling rule: days without follow-up per level before a customer goes back to the pool.
DEMO_RECYCLE_DAYS = {"important": 120, "normal": 90, "potential": 60}


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


def users_with_password(session, password):
    """Those of ``DEMO_PASSWORD_USERS`` who sign in with ``password`` (``admin`` keeps one chosen before the demo)."""
    from werkzeug.security import check_password_hash

    hashes = dict(session.execute(select(SysUser.username, SysUser.password_hash)
                                  .where(SysUser.username.in_(DEMO_PASSWORD_USERS))).all())
    return [u for u in DEMO_PASSWORD_USERS if u in hashes and check_password_hash(hashes[u], password)]


def seed_demo(session, password, customers=300, seed=2026):
    """Fill an empty tenant with demo people and customers. The tenant's ``admin`` gets ``password`` too, unless a
    password was already chosen for it."""
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
    from .auth import NO_PASSWORD

    if admin.password_hash == NO_PASSWORD:  # a password someone chose (the first login's link) is theirs to keep
        admin.password_hash = hashed
    owners = [users["sales1"], users["sales2"], users["sales3"], users["manager"]]
    used_phones, follow_ups = set(), []
    # ids follow the order records were made, as they do in a real CRM (the lists' 创建时间 sort is by id)
    created_times = sorted(now - timedelta(days=rng.randrange(1, 180), minutes=rng.randrange(1440))
                           for _ in range(customers))
    for i, created in enumerate(created_times):
        owner = rng.choice(owners)
        province, city, city_name = rng.choice(CITIES)
        word, (kind, industry) = rng.choice(WORDS), rng.choice(KINDS)
        enterprise = rng.random() < 0.8
        name = f"{city_name}{word}{kind}有限公司" if enterprise else _name(rng)
        if enterprise and i % 7 == 0:
            name = f"{city_name}{word}{kind}{rng.choice(['服务', '集团', '发展'])}有限公司"
        customer = CrmCustomer(
            customer_type="enterprise" if enterprise else "individual", customer_name=name, name_key=name_key(name),
            phone=_mobile(rng, used_phones), industry=industry if enterprise else None,
            scale=rng.choice(["lt50", "50_199", "200_999", "1000_plus"]) if enterprise else None,
            province_code=province, city_code=city, address=f"{rng.choice(['人民路', '建设路', '解放大道', '中山路'])}{rng.randrange(1, 999)}号",
            level=rng.choices(["important", "normal", "potential"], [2, 5, 3])[0],
            deal_status=rng.choices(["potential", "won", "lost"], [6, 3, 1])[0],
            source=rng.choice(SOURCES),
            owner_id=owner.id, dept_id=owner.dept_id, created_by=owner.id, created_at=created, updated_at=created,
            owned_since=created)
        customer.tags = [CrmCustomerTag(tag=t) for t in rng.sample(TAGS, rng.randrange(0, 3))]
        if customer.deal_status == "lost" and i % 3 == 0:
            customer.status = "inactive"  # some lost deals set aside by their owner (no draw: the data stays the same)
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
            follow_ups.append(CrmFollowUp(relation_type="customer", relation_id=customer.id,
                                          follow_type=rng.choice(FOLLOW_TYPES), content=rng.choice(TALKS),
                                          created_by=owner.id, created_at=at, updated_at=at))
            last = max(last or at, at)
        customer.last_follow_up_at = last
        roll = rng.random()
        if roll < 0.1:
            customer.next_follow_up_at = now - timedelta(days=rng.randrange(1, 10))  # overdue
        elif roll < 0.2:
            customer.next_follow_up_at = now + timedelta(hours=rng.randrange(1, 6))  # today, mostly
        elif roll < 0.6:
            customer.next_follow_up_at = now + timedelta(days=rng.randrange(1, 30))
    session.flush()
    _demo_leads(session, rng, now, [users["sales1"], users["sales2"], users["sales3"]], group1, used_phones, follow_ups)
    _demo_recycling(session, rng, now, admin.id, follow_ups)
    # written in the order they happened, as people would have recorded them: "recent activity" is the newest
    session.add_all(sorted(follow_ups, key=lambda f: f.created_at))
    session.flush()
    _date_history(session)


def _date_history(session):
    """The seed wrote every record now, so each one's history said "created just now, by 系统" under a profile
    created months ago. Each record's own entries (not the recycling run's, which has its actor) now say what
    the demo pretends: created when the record says, by whom it says; its follow-up bookkeeping (last and next
    follow-up, status) at its last follow-up, by its owner."""
    log = CrmChangeLog.__table__
    for entity, model in (("customer", CrmCustomer), ("contact", CrmContact), ("lead", CrmLead)):
        own = model.id == log.c.entity_id
        last = getattr(model, "last_follow_up_at", model.created_at)
        for action, at, actor in (("create", model.created_at, model.created_by),
                                  ("update", func.coalesce(last, model.created_at),
                                   func.coalesce(model.owner_id, model.created_by))):
            session.execute(update(log).where(log.c.entity_type == entity, log.c.action == action,
                                              log.c.user_id.is_(None))
                            .values(created_at=select(at).where(own).scalar_subquery(),
                                    user_id=select(actor).where(own).scalar_subquery()))


def _demo_leads(session, rng, now, sales, group, used_phones, follow_ups, leads=40):
    """Leads as a sales team has them: most owned (new or being followed up, some due today), the rest
    waiting to be claimed in the public pool or in one sales group's own pool."""
    public = default_pool(session)
    group_pool = CrmLeadPool(pool_name=f"{group.dept_name}线索池", description="本组专属线索，组内成员可领取。",
                             is_public=False, dept_id=group.id, recycle_days=30, created_at=now - timedelta(days=90))
    session.add(group_pool)
    session.flush()
    created_times = sorted(now - timedelta(days=rng.randrange(0, 60), minutes=rng.randrange(1440)) for _ in range(leads))
    for i, created in enumerate(created_times):
        city = rng.choice(CITIES)[2]
        owner = rng.choice(sales) if i % 3 else None  # a third wait in a pool
        pool = group_pool if owner is None and i % 2 else public
        lead = CrmLead(lead_name=_name(rng), phone=_mobile(rng, used_phones),
                       company=f"{city}{rng.choice(WORDS)}{rng.choice(KINDS)[0]}有限公司",
                       position=rng.choice(POSITIONS),
                       source=rng.choice(SOURCES),
                       intent_product=rng.choice(LEAD_NEEDS), intent_level=rng.choice([1, 2, 2, 3]),
                       status=STATUS_NEW, pool_id=pool.id, owner_id=owner.id if owner else None,
                       dept_id=owner.dept_id if owner else pool.dept_id, claimed_at=created if owner else None,
                       created_by=(owner or sales[0]).id, created_at=created, updated_at=created)
        session.add(lead)
        session.flush()
        if owner is None:
            continue
        times = sorted(created + timedelta(hours=rng.randrange(1, max(2, int((now - created).total_seconds() // 3600))))
                       for _ in range(rng.randrange(0, 3)))
        for at in times:
            follow_ups.append(CrmFollowUp(relation_type="lead", relation_id=lead.id,
                                          follow_type=rng.choice(FOLLOW_TYPES), content=rng.choice(LEAD_TALKS),
                                          created_by=owner.id, created_at=at, updated_at=at))
        if times:
            lead.status, lead.last_follow_up_at = STATUS_FOLLOWING, times[-1]
        if i % 5 == 1:
            lead.next_follow_up_at = now + timedelta(hours=rng.randrange(1, 6))  # due today, mostly


def _demo_recycling(session, rng, now, admin_id, follow_ups, saved_per_owner=2):
    """The demo's recycling rule, applied once by the real recycling run (as the nightly job would). First,
    each owner followed up a couple of the customers it would take, just in time: those are the ones the
    home page warns about (recycled in a day or two unless followed up again)."""
    pool_services.save_rule(session, None, {
        "rule_name": "超期未跟进", "enabled": True, "sort": 0,
        "conditions": {"match": "all", "items": [{"field": "inactive_days", "op": "gte", "value": DEMO_RECYCLE_DAYS}]}})
    session.flush()
    saved = Counter()
    for row in session.execute(pool_services.candidates(session, now).order_by(CrmCustomer.id)).all():
        if saved[row.owner_id] >= saved_per_owner:
            continue
        saved[row.owner_id] += 1
        customer = session.get(CrmCustomer, row.customer_id)
        at = now - timedelta(days=DEMO_RECYCLE_DAYS[customer.level] - saved[row.owner_id], hours=rng.randrange(1, 8))
        follow_ups.append(CrmFollowUp(relation_type="customer", relation_id=customer.id, follow_type="phone",
                                      content=rng.choice(TALKS), created_by=row.owner_id, created_at=at, updated_at=at))
        customer.last_follow_up_at = at
    session.flush()
    return pool_services.recycle(session, now=now, actor_id=admin_id)


def has_customers(session):
    return session.scalar(select(func.count(CrmCustomer.id))) > 0


# ---------------------------------------------------------------------- volume

VOLUME_PREFIX = "vol_"  # the synthetic organisation's usernames
VOLUME_REGIONS = ("华东大区", "华南大区", "华北大区")
VOLUME_GROUPS = 3  # sales groups per region
VOLUME_SALES = 4  # sales users per group
LEVEL_WEIGHTS = (("important", 2), ("normal", 5), ("potential", 3))
FOLLOW_TYPES = ("phone", "visit", "wechat", "email")
SOURCES = ("website", "exhibition", "referral", "cold_call", "advertising", "wechat")
SPAN_DAYS = 3 * 365  # synthetic customers were created over the last three years


def volume_org(conn, password_hash):
    """The synthetic sales organisation the volume fill spreads customers over, made once per tenant:
    销售中心 under the root with a director (销售经理: the whole centre), three regions each with a manager
    (销售经理: the region and its groups) and three groups of four sales users (销售: only their own
    customers). Returns ``{"director": (id, dept), "managers": [(id, dept)], "sales": [(id, dept)]}``."""
    from .people.models import SysUserRole as UserRole

    users = {name: (uid, dept) for uid, name, dept in conn.execute(
        select(SysUser.id, SysUser.username, SysUser.dept_id).where(SysUser.username.like(VOLUME_PREFIX + "%")))}
    if f"{VOLUME_PREFIX}director" not in users:
        roles = ensure_builtin_roles(conn)
        now = utcnow()
        root = conn.execute(select(SysDept.id).where(SysDept.parent_id.is_(None)).order_by(SysDept.id)).scalar()

        def dept(name, parent, sort):
            return conn.execute(insert(SysDept).values(dept_name=name, parent_id=parent, sort=sort,
                                                       created_at=now)).inserted_primary_key[0]

        def user(username, full_name, dept_id, role):
            uid = conn.execute(insert(SysUser).values(
                username=username, full_name=full_name, dept_id=dept_id, status=1, password_hash=password_hash,
                created_at=now, updated_at=now)).inserted_primary_key[0]
            conn.execute(insert(UserRole).values(user_id=uid, role_id=roles[role]))
            users[username] = (uid, dept_id)

        rng = random.Random(11)
        centre = dept("销售中心", root, 10)
        user(f"{VOLUME_PREFIX}director", _name(rng), centre, "sales_manager")
        for r, region_name in enumerate(VOLUME_REGIONS):
            region = dept(region_name, centre, r + 1)
            user(f"{VOLUME_PREFIX}m{r}", _name(rng), region, "sales_manager")
            for g in range(VOLUME_GROUPS):
                group = dept(f"{region_name[:2]}销售{'一二三四五六七八九'[g]}组", region, g + 1)
                for k in range(VOLUME_SALES):
                    user(f"{VOLUME_PREFIX}s{r}{g}{k}", _name(rng), group, "sales")
        conn.commit()
    return {"director": users[f"{VOLUME_PREFIX}director"],
            "managers": [users[f"{VOLUME_PREFIX}m{r}"] for r in range(len(VOLUME_REGIONS))],
            "sales": sorted(v for k, v in users.items() if k.startswith(f"{VOLUME_PREFIX}s"))}


def _share(total, parts, k):
    """The k-th of ``parts`` near-equal integer shares of ``total`` (they add up to it exactly)."""
    return total * (k + 1) // parts - total * k // parts


def fill_volume(conn, customers, follow_ups, contacts=None, chunk=5000, progress=None, seed=7, password=None):
    """Bulk-insert synthetic customers with their contacts, tags and follow-ups for benchmarks.

    The rows are what the app itself would write: every customer belongs to a user of the synthetic sales
    organisation (``volume_org``) and carries that user's department (the data scope's two columns), was
    created at a time that grows with its id over the last three years (so "newest first" is id order),
    has its follow-ups between its creation and now, written by its owner, and ``last_follow_up_at`` is the
    newest of them (None without any); ``owned_since`` is the creation. ``contacts`` (default: every other
    customer) customers get one key contact. Ids are given explicitly from the table's maximum on, so
    every follow-up points at a customer of this fill.

    Fast by batching: one multi-row INSERT per table per chunk of customers (PyMySQL sends executemany as
    multi-row statements), in primary-key order, foreign-key checks off on MariaDB for the session (every
    owner was read from sys_user on this connection, every customer is inserted before what points at it),
    a commit per chunk. Unique checks stay on: a tenant's own customer with one of the synthetic phones
    stops the fill rather than being duplicated. Profiled at 10,000 customers, most of the time goes to
    PyMySQL escaping the values in Python and about a tenth to waiting for the server, so indexes stay.
    ``progress(n)`` is called with the customers added (their contacts, tags and follow-ups are in by then)."""
    from .people.models import SysUserRole  # noqa: F401  (the roles' table is known to the metadata)

    if contacts is None:
        contacts = customers // 2
    contacts = min(contacts, customers)
    rng = random.Random(seed)
    org = volume_org(conn, generate_password_hash(password or secrets.token_urlsafe(12)))
    # most customers belong to sales users; the managers keep a few of their own
    owners = org["sales"] * 19 + org["managers"] + [org["director"]]
    rng.shuffle(owners)
    mysql = conn.dialect.name in ("mysql", "mariadb")
    if mysql:
        conn.exec_driver_sql("SET SESSION foreign_key_checks = 0")
    start = (conn.execute(select(func.max(CrmCustomer.id))).scalar() or 0) + 1
    next_contact = (conn.execute(select(func.max(CrmContact.id))).scalar() or 0) + 1
    now = utcnow().replace(microsecond=0)
    first_day = now - timedelta(days=SPAN_DAYS)
    span = (now - first_day).total_seconds()
    levels = [lv for lv, w in LEVEL_WEIGHTS for _ in range(w)]
    customer_table, follow_table = CrmCustomer.__table__, CrmFollowUp.__table__
    contact_table, tag_table = CrmContact.__table__, CrmCustomerTag.__table__
    chunks = max(1, -(-customers // chunk)) if customers else 0
    try:
        for k in range(chunks):
            lo, hi = customers * k // chunks, customers * (k + 1) // chunks  # this chunk's customers (0-based)
            rows, tags, people, follows, words, contact_words = [], [], [], [], [], []
            # this chunk's share of the follow-ups, each on a random customer of the chunk
            per_customer = [0] * (hi - lo)
            for _ in range(_share(follow_ups, chunks, k)):
                per_customer[rng.randrange(hi - lo)] += 1
            for j in range(lo, hi):
                cid = start + j
                owner_id, dept_id = owners[j % len(owners)]
                created = first_day + timedelta(seconds=int(span * j / max(customers, 1)) + rng.randrange(60))
                created = min(created, now)
                word, (kind, industry) = WORDS[rng.randrange(len(WORDS))], KINDS[rng.randrange(len(KINDS))]
                province, city, city_name = CITIES[rng.randrange(len(CITIES))]
                name = f"{city_name}{word}{kind}{cid}号有限公司"
                times = sorted(created + timedelta(seconds=rng.randrange(max(1, int((now - created).total_seconds()))))
                               for _ in range(per_customer[j - lo]))
                for at in times:
                    follows.append({"relation_type": "customer", "relation_id": cid,
                                    "follow_type": FOLLOW_TYPES[rng.randrange(len(FOLLOW_TYPES))],
                                    "content": TALKS[rng.randrange(len(TALKS))], "created_by": owner_id,
                                    "created_at": at, "updated_at": at})
                roll = rng.random()
                next_at = (now - timedelta(days=rng.randrange(1, 10)) if roll < 0.1 else
                           now + timedelta(days=rng.randrange(0, 30), hours=rng.randrange(24)) if roll < 0.4 else None)
                phone = f"+86166{cid:08d}"
                words += CUSTOMER_WORDS.rows(cid, name, phone)
                rows.append({"id": cid, "customer_name": name, "name_key": name_key(name),
                             "name_pinyin": pinyin_key(name),
                             "customer_type": "enterprise", "phone": phone, "industry": industry,
                             "province_code": province, "city_code": city,
                             "level": levels[rng.randrange(len(levels))], "status": "active",
                             "deal_status": ("potential", "potential", "won", "lost")[rng.randrange(4)],
                             "source": SOURCES[rng.randrange(len(SOURCES))], "owner_id": owner_id, "dept_id": dept_id,
                             "created_by": owner_id, "created_at": created, "updated_at": times[-1] if times else created,
                             "owned_since": created, "last_follow_up_at": times[-1] if times else None,
                             "next_follow_up_at": next_at})
                if rng.random() < 0.3:
                    tags += [{"customer_id": cid, "tag": t} for t in rng.sample(TAGS, rng.randrange(1, 3))]
                if contacts * (j + 1) // customers > contacts * j // customers:
                    person, contact_phone = _name(rng), f"+86177{cid:08d}"
                    contact_words += CONTACT_WORDS.rows(next_contact, person, None, contact_phone)
                    people.append({"id": next_contact, "customer_id": cid, "contact_name": person,
                                   "position": POSITIONS[j % len(POSITIONS)],
                                   "phone": contact_phone, "is_key": True, "primary_marker": 1,
                                   "owner_id": owner_id, "created_by": owner_id, "created_at": created,
                                   "updated_at": created})
                    next_contact += 1
            conn.execute(insert(customer_table), rows)
            for table, batch in ((tag_table, tags), (contact_table, people), (follow_table, follows),
                                 (CrmCustomerWord.__table__, words), (CrmContactWord.__table__, contact_words)):
                if batch:
                    conn.execute(insert(table), batch)
            conn.commit()
            if progress:
                progress(len(rows))
    finally:
        if mysql:
            conn.exec_driver_sql("SET SESSION foreign_key_checks = 1")
    return customers, follow_ups
