----------------------------- MODULE Rebalanser -----------------------------
(***************************************************************************)
(* The resource-barrier protocol of DESIGN.md section 4 and the etcd-shaped *)
(* registry of section 3, at the granularity of the Rust model (model/):    *)
(* each registry request is a message that the registry applies (or not)   *)
(* and answers with one of five outcomes, SUCCESS, POST_FAILED, RETRYABLE,  *)
(* FATAL or UNKNOWN, after failing at one of the eight steps.               *)
(*                                                                         *)
(* Each node is level-triggered like protocol/src/node: every input updates *)
(* its record, then Drive reconciles what it runs with its view of the     *)
(* group, notices leadership, and sends its next request (one at a time).  *)
(* The view is the registry as of some revision: a Range or the watch       *)
(* brings it up to the registry's current state.                            *)
(*                                                                         *)
(* Property names are those of DESIGN.md section 7; mutants are named as    *)
(* in protocol/src/mutant.rs.                                               *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, Bags

CONSTANTS
    Nodes,            \* node names (model values)
    Res,              \* every resource the administrator may use
    InitialRes,       \* the resources at the start, a subset of Res
    Mutant,           \* "none", or "M1" .. "M8", "M11", "M12"
    TimingAssumption, \* TRUE: a lease a node relies on expires only after it fenced
    Hold,             \* TRUE: model the minimum rebalance interval (a leader holds after writes)
    MaxCrashes, MaxRpcFaults, MaxExpiries, MaxAdmin, MaxMembership, MaxWatchBreaks,
    MaxLate,          \* requests that time out still on their way, or are duplicated
    NONE,             \* a model value: "nothing", unequal to every record
    Start             \* "settled" (every node member, everything running) or "joining"

Steps == {"POST_REQUEST", "DELIVER_REQUEST", "VALIDATE_REQUEST", "UPDATE_SERVER_STATE",
          "POST_REPLY", "DELIVER_REPLY", "VALIDATE_REPLY", "UPDATE_CLIENT_STATE"}
\* protocol/src/rpc.rs: FailureStep::applied and FailureStep::outcome.
Applied(step) == step \in {"POST_REPLY", "DELIVER_REPLY", "VALIDATE_REPLY", "UPDATE_CLIENT_STATE"}
StepOutcome(step) ==
    CASE step = "POST_REQUEST" -> [k |-> "POST_FAILED"]
      [] step = "VALIDATE_REQUEST" -> [k |-> "FATAL"]
      [] step = "UPDATE_SERVER_STATE" -> [k |-> "RETRYABLE"]
      [] OTHER -> [k |-> "UNKNOWN"]

VARIABLES
    reg,      \* the registry
    nd,       \* each node's state
    appq,     \* each application's pending commands per resource: NONE, "start", "stop", "startstop"
    access,   \* what each application accesses: the ground truth
    up,       \* process running
    wire,     \* requests still on their way that nobody waits for (a bag: copies count)
    lapsed,   \* leases whose holder's fence deadline passed
    budget,   \* faults left
    writes    \* whether every assignment write so far was fenced, well formed and sticky

vars == <<reg, nd, appq, access, up, wire, lapsed, budget, writes>>

-----------------------------------------------------------------------------
(* The registry *)

Snap(g) == [rev |-> g.rev, mem |-> g.mem, ldr |-> g.ldr, res |-> g.res, asg |-> g.asg,
            bar |-> g.bar]

\* A fresh registry is at revision 1 (as etcd's is); the administrator created each initial
\* resource in a revision of its own (admin.rs), as the Rust model and simulator do.
R0 == 1 + Cardinality(InitialRes)
InitReg == [rev |-> R0, mem |-> [n \in Nodes |-> NONE], ldr |-> NONE, res |-> InitialRes,
            asg |-> NONE, bar |-> [r \in Res |-> NONE], leases |-> {}, next |-> 1,
            watchers |-> {}]

LeaseLive(g, l) == l \in g.leases
Bump(g) == [g EXCEPT !.rev = g.rev + 1]

\* Delete every key attached to lease l, in one revision (if any).
EndLease(g, l) ==
    LET mem == [n \in Nodes |-> IF g.mem[n] # NONE /\ g.mem[n].l = l THEN NONE ELSE g.mem[n]]
        ldr == IF g.ldr # NONE /\ g.ldr.l = l THEN NONE ELSE g.ldr
        bar == [r \in Res |-> IF g.bar[r] # NONE /\ g.bar[r].l = l THEN NONE ELSE g.bar[r]]
        changed == mem # g.mem \/ ldr # g.ldr \/ bar # g.bar
    IN [g EXCEPT !.mem = mem, !.ldr = ldr, !.bar = bar, !.leases = g.leases \ {l},
                 !.rev = IF changed THEN g.rev + 1 ELSE g.rev]

Count(m, n) == Cardinality({r \in DOMAIN m : m[r] = n})

\* assignment_well_formed: each resource once (a function), counts differ by at most one.
WellFormed(a) == \A x, y \in a.mem : Count(a.m, x) <= Count(a.m, y) + 1

Balanced(M, R) == {f \in [R -> M] : \A x, y \in M : Count(f, x) <= Count(f, y) + 1}
Kept(f, prev) ==
    IF prev = NONE THEN 0
    ELSE Cardinality({r \in DOMAIN f : r \in DOMAIN prev.m /\ prev.m[r] = f[r]})
\* The most previous owners a balanced allocation of R over M keeps (allocate.rs: most_kept):
\* each member keeps up to the common quota of what it had, and each of the `extra` larger
\* quotas keeps one more for a member that had more than the common quota.
MostKept(M, R, prev) ==
    IF prev = NONE \/ M = {} THEN 0
    ELSE LET base == Cardinality(R) \div Cardinality(M)
             extra == Cardinality(R) % Cardinality(M)
             K(m) == Cardinality({r \in R \cap DOMAIN prev.m : prev.m[r] = m})
             over == Cardinality({m \in M : K(m) > base})
         IN Cardinality({x \in M \X (1..base) : x[2] <= K(x[1])})
            + (IF over < extra THEN over ELSE extra)
\* sticky_assignment: a written assignment keeps as many resources where the one it replaces
\* had them as balance allows.
Sticky(a, prev) == Kept(a.m, prev) >= MostKept(a.mem, DOMAIN a.m, prev)

TxnResp(ok, g) == [k |-> "txn", ok |-> ok, rev |-> g.rev]

\* Apply request op from node n: [g |-> registry after, resp |-> response].
Apply(g, n, op) ==
    CASE op.k = "grant" ->
            [g |-> [g EXCEPT !.leases = g.leases \cup {g.next}, !.next = g.next + 1],
             resp |-> [k |-> "granted", l |-> g.next]]
      [] op.k = "range" -> [g |-> g, resp |-> [k |-> "range", snap |-> Snap(g)]]
      [] op.k = "watch" -> [g |-> [g EXCEPT !.watchers = g.watchers \cup {n}],
                            resp |-> [k |-> "watching"]]
      [] op.k = "revoke" ->
            IF LeaseLive(g, op.l) THEN [g |-> EndLease(g, op.l), resp |-> [k |-> "revoked"]]
            ELSE [g |-> g, resp |-> [k |-> "lnf"]]
      [] op.k = "register" ->
            IF ~LeaseLive(g, op.l) THEN [g |-> g, resp |-> [k |-> "lnf"]]
            ELSE LET c == IF g.mem[n] = NONE THEN g.rev + 1 ELSE g.mem[n].c
                     h == Bump([g EXCEPT !.mem[n] = [l |-> op.l, c |-> c]])
                 IN [g |-> h, resp |-> TxnResp(TRUE, h)]
      [] op.k = "elect" ->
            IF g.ldr # NONE THEN [g |-> g, resp |-> TxnResp(FALSE, g)]
            ELSE IF ~LeaseLive(g, op.l) THEN [g |-> g, resp |-> [k |-> "lnf"]]
            ELSE LET h == Bump([g EXCEPT !.ldr = [n |-> n, l |-> op.l, c |-> g.rev + 1]])
                 IN [g |-> h, resp |-> TxnResp(TRUE, h)]
      [] op.k = "assign" ->
            LET fenced == g.ldr # NONE /\ g.ldr.c = op.t
                seen == IF g.asg = NONE THEN op.seen = 0 ELSE g.asg.mr = op.seen
                ok == Mutant = "M4" \/ (fenced /\ seen)
                h == Bump([g EXCEPT !.asg = [op.a EXCEPT !.mr = g.rev + 1]])
            IN IF ok THEN [g |-> h, resp |-> TxnResp(TRUE, h)]
               ELSE [g |-> g, resp |-> TxnResp(FALSE, g)]
      [] op.k = "acquire" ->
            IF g.bar[op.r] # NONE THEN [g |-> g, resp |-> TxnResp(FALSE, g)]
            ELSE IF ~LeaseLive(g, op.l) THEN [g |-> g, resp |-> [k |-> "lnf"]]
            ELSE LET h == Bump([g EXCEPT !.bar[op.r] = [n |-> n, l |-> op.l, c |-> g.rev + 1]])
                 IN [g |-> h, resp |-> TxnResp(TRUE, h)]
      [] op.k = "release" ->
            \* apply.rs: release_txn -- the very barrier the node created: its owner and its
            \* create_rev (M8 compares only the owner, so a late copy deletes a later barrier).
            LET b == g.bar[op.r]
                ok == b # NONE /\ b.n = n /\ b.l = op.l /\ (Mutant = "M8" \/ b.c = op.c)
                h == Bump([g EXCEPT !.bar[op.r] = NONE])
            IN IF ok THEN [g |-> h, resp |-> TxnResp(TRUE, h)]
               ELSE [g |-> g, resp |-> TxnResp(FALSE, g)]

\* What an assignment write does to the write properties (judged as it happens).
JudgeWrite(g, n, op) ==
    IF op.k = "assign" /\ (Mutant = "M4" \/ (g.ldr # NONE /\ g.ldr.c = op.t
                                              /\ (IF g.asg = NONE THEN op.seen = 0
                                                  ELSE g.asg.mr = op.seen)))
    THEN [fenced |-> writes.fenced /\ g.ldr # NONE /\ g.ldr.n = n /\ g.ldr.c = op.a.t,
          well |-> writes.well /\ WellFormed(op.a),
          sticky |-> writes.sticky /\ Sticky(op.a, g.asg)]
    ELSE writes

-----------------------------------------------------------------------------
(* Allocation: balanced, and sticky (keeps as many previous owners as balance allows). *)

\* Every allocation the protocol allows: balanced, keeping as many previous owners as balance
\* allows (allocate.rs computes one of them).
Allocations(M, R, prev) ==
    IF Mutant = "M7" /\ prev # NONE
    THEN \* M7 never takes a resource away from a member that still has it.
         {f \in [R -> M] :
            \A r \in R : (r \in DOMAIN prev.m /\ prev.m[r] \in M) => f[r] = prev.m[r]}
    ELSE \* M11 forgets the previous assignment: any balanced allocation.
         LET p == IF Mutant = "M11" THEN NONE ELSE prev
         IN {f \in Balanced(M, R) : Kept(f, p) = MostKept(M, R, p)}

\* Where the protocol leaves a choice (which allocation, which barrier first), the model checker
\* follows one; trace validation overrides Pick with AllOf and lets the logged request decide.
Pick(S) == IF S = {} THEN {} ELSE {CHOOSE x \in S : TRUE}
AllOf(S) == S
Allocate(M, R, prev) == CHOOSE f \in Allocations(M, R, prev) : TRUE

-----------------------------------------------------------------------------
(* A node (protocol/src/node): its record, and how an input changes it. *)

FreshNode == [ph |-> "idle", l |-> 0, view |-> NONE, synced |-> FALSE, watch |-> FALSE,
              wr |-> 0, term |-> 0, backoff |-> FALSE, hold |-> FALSE, hr |-> 0,
              loc |-> [r \in Res |-> NONE], req |-> NONE]

E(st, l) == [st |-> st, l |-> l]
MayAccess(e) == e # NONE /\ e.st \in {"starting", "running", "stopping"}
ViewRev(s) == IF s.view = NONE THEN 0 ELSE s.view.rev
Members(v) == {m \in Nodes : v.mem[m] # NONE}

\* lease.rs: stop everything at once, drop the lease and every role, rejoin.
Fence(s) ==
    IF Mutant = "M5" \/ s.l = 0 THEN s
    ELSE [s EXCEPT !.loc = [r \in Res |->
                        IF s.loc[r] # NONE /\ s.loc[r].st \in {"starting", "running", "stopping"}
                        THEN E("stopping", s.loc[r].l) ELSE NONE],
                   !.l = 0, !.req = NONE, !.term = 0, !.backoff = FALSE, !.synced = FALSE,
                   !.hold = FALSE,
                   !.wr = 0, !.ph = IF s.ph = "leaving" THEN "leaving" ELSE "joining"]

\* lifecycle.rs: left.
Left(s) == [s EXCEPT !.l = 0, !.ph = "left", !.term = 0, !.req = NONE, !.backoff = FALSE,
                     !.hold = FALSE,
                     !.loc = [r \in Res |-> IF MayAccess(s.loc[r]) THEN s.loc[r] ELSE NONE]]

\* apply.rs: reconcile_member.
ReconcileMember(s, n) ==
    IF s.l = 0 \/ ~s.synced \/ ViewRev(s) < s.wr THEN s
    ELSE IF s.view.mem[n] = NONE \/ s.view.mem[n].l # s.l THEN Fence(s)
    ELSE
    LET v == s.view
        desired == IF v.asg = NONE THEN {}
                   ELSE {r \in DOMAIN v.asg.m : v.asg.m[r] = n /\ r \in v.res}
        mine(r) == Mutant # "M6" /\ v.bar[r] # NONE /\ v.bar[r].n = n /\ v.bar[r].l = s.l
        next(r) ==
            LET e == s.loc[r] IN
            IF r \in desired THEN
                IF e = NONE THEN IF Mutant = "M2" \/ mine(r) THEN E("starting", s.l)
                                 ELSE E("acquiring", 0)
                ELSE IF e.st = "acquiring" /\ mine(r) THEN E("starting", s.l)
                \* The release landed (its outcome was UNKNOWN, say): acquire anew.
                ELSE IF e.st = "releasing" /\ e.l = s.l /\ ~mine(r) THEN E("acquiring", 0)
                ELSE e
            ELSE IF e = NONE THEN IF mine(r) THEN E("releasing", s.l) ELSE NONE
            ELSE CASE e.st = "acquiring" -> NONE
                   [] e.st \in {"starting", "running"} ->
                        IF Mutant = "M3" /\ e.l = s.l THEN E("releasing", e.l)
                        ELSE E("stopping", e.l)
                   [] e.st = "releasing" /\ e.l = s.l /\ ~mine(r) -> NONE
                   [] OTHER -> e
    IN [s EXCEPT !.loc = [r \in Res |-> next(r)]]

ReconcileLeaving(s) ==
    LET loc == [r \in Res |-> IF s.loc[r] = NONE THEN NONE
                              ELSE IF s.loc[r].st \in {"starting", "running", "stopping"}
                                   THEN E("stopping", s.loc[r].l) ELSE NONE]
        t == [s EXCEPT !.loc = loc]
    IN IF s.l = 0 /\ s.req = NONE /\ \A r \in Res : loc[r] = NONE THEN Left(t) ELSE t

Reconcile(s, n) ==
    CASE s.ph = "member" -> ReconcileMember(s, n)
      [] s.ph = "leaving" -> ReconcileLeaving(s)
      [] OTHER -> s

AsgRev(v) == IF v = NONE \/ v.asg = NONE THEN 0 ELSE v.asg.mr

\* leadership.rs: the term is the leader key's create_rev. A new leader holds one interval
\* (its predecessor may just have written); a leader that stops leading drops the hold.
TrackLeader(s, n) ==
    LET leads == s.ph = "member" /\ s.view # NONE /\ s.view.ldr # NONE
                 /\ s.view.ldr.n = n /\ s.view.ldr.l = s.l
        t == IF leads THEN s.view.ldr.c ELSE 0
    IN IF t = s.term THEN s
       ELSE IF t = 0 THEN [s EXCEPT !.term = 0, !.hold = FALSE]
       ELSE IF s.view.asg = NONE \/ ~Hold THEN [s EXCEPT !.term = t]
       ELSE [s EXCEPT !.term = t, !.hold = TRUE, !.hr = AsgRev(s.view)]

\* leadership.rs: hold_after_writes -- a leader holds from learning of any write it has not held
\* for (min_rebalance_interval; the timer is the HoldOver step).
HoldAfterWrites(s) ==
    IF Hold /\ s.term # 0 /\ AsgRev(s.view) > s.hr
    THEN [s EXCEPT !.hold = TRUE, !.hr = AsgRev(s.view)]
    ELSE s

AssignRequests(s, n) ==
    LET v == s.view
        M == Members(v)
        \* M12 takes a removal for no change: the assignment may keep resources gone since.
        same == v.asg # NONE /\ v.asg.mem = M
                /\ IF Mutant = "M12" THEN v.res \subseteq DOMAIN v.asg.m ELSE DOMAIN v.asg.m = v.res
        prev == v.asg
        \* M4 sends no compares at all: no revision seen.
        op(f) == [k |-> "assign", t |-> s.term, seen |-> IF Mutant = "M4" THEN 0 ELSE AsgRev(v),
                  a |-> [t |-> s.term, e |-> IF prev = NONE THEN 1 ELSE prev.e + 1, mem |-> M,
                         m |-> f, mr |-> 0]]
    IN IF s.term = 0 \/ s.hold \/ same \/ M = {} THEN {}
       ELSE {op(f) : f \in Pick(Allocations(M, v.res, prev))}

\* apply.rs: barrier_request -- releases before acquisitions. A node releases only a barrier
\* its view shows this session holding (checked directly: M6, which blinds reconcile's mine,
\* does not apply here), comparing that barrier's create_rev; where the view shows none of
\* ours there is nothing to release. M8's release carries no create_rev (c = 0: its
\* transaction has no such compare).
BarrierRequests(s, n) ==
    LET held(r) == s.view.bar[r] # NONE /\ s.view.bar[r].n = n /\ s.view.bar[r].l = s.l
        releasing == {r \in Res : s.loc[r] = E("releasing", s.l) /\ held(r)}
        acquiring == {r \in Res : s.loc[r] = E("acquiring", 0) /\ s.view.bar[r] = NONE}
    IN IF releasing # {} THEN
          {[k |-> "release", r |-> r, l |-> s.l,
            c |-> IF Mutant = "M8" THEN 0 ELSE s.view.bar[r].c] : r \in Pick(releasing)}
       ELSE {[k |-> "acquire", r |-> r, l |-> s.l] : r \in Pick(acquiring)}

\* mod.rs: next_request, in order of precedence (the requests it may send; none: {}).
NextRequests(s, n) ==
    CASE s.ph = "joining" ->
            IF s.l = 0 THEN {[k |-> "grant"]} ELSE {[k |-> "register", l |-> s.l]}
      [] s.ph = "leaving" ->
            IF (\E r \in Res : MayAccess(s.loc[r])) \/ s.l = 0 THEN {}
            ELSE {[k |-> "revoke", l |-> s.l]}
      [] s.ph = "member" ->
            IF ~s.synced THEN {[k |-> "range"]}
            ELSE IF ~s.watch THEN {[k |-> "watch"]}
            ELSE IF s.view.rev < s.wr THEN {}
            ELSE IF s.view.ldr = NONE /\ s.l # 0 THEN {[k |-> "elect", l |-> s.l]}
            ELSE LET a == AssignRequests(s, n) IN IF a # {} THEN a ELSE BarrierRequests(s, n)
      [] OTHER -> {}

SendNext(s, n) ==
    IF s.req # NONE \/ s.backoff THEN {s}
    ELSE LET Q == NextRequests(s, n)
         IN IF Q = {} THEN {s}
            ELSE {[s EXCEPT !.req = [op |-> q, st |-> "sent", out |-> NONE]] : q \in Q}

\* mod.rs: drive -- what the node may become after an input (one state unless it has a choice).
Drives(s, n) == SendNext(HoldAfterWrites(TrackLeader(Reconcile(s, n), n)), n)
Drive(s, n) == CHOOSE t \in Drives(s, n) : TRUE

\* on_reply / on_response: the outcome of the request in flight.
OnReply(s0, out) ==
    LET op == s0.req.op
        s == [s0 EXCEPT !.req = NONE]
    IN
    CASE out.k = "lnf" -> IF op.k = "revoke" THEN Left(s) ELSE Fence(s)
      [] out.k = "granted" -> [s EXCEPT !.l = out.l]
      [] out.k = "range" ->
            [s EXCEPT !.view = IF out.snap.rev >= ViewRev(s) THEN out.snap ELSE s.view,
                      !.synced = TRUE]
      [] out.k = "watching" -> [s EXCEPT !.watch = TRUE]
      [] out.k = "compacted" -> [s EXCEPT !.watch = FALSE, !.synced = FALSE]
      [] out.k = "revoked" -> Left(s)
      [] out.k = "txn" /\ op.k = "register" ->
            IF s.ph = "joining" /\ s.l # 0
            THEN [s EXCEPT !.ph = "member", !.synced = FALSE, !.wr = out.rev] ELSE s
      [] out.k = "txn" /\ op.k = "acquire" ->
            LET t == [s EXCEPT !.wr = out.rev] IN
            IF ~out.ok \/ s.l = 0 THEN t
            ELSE IF s.loc[op.r] = E("acquiring", 0) THEN [t EXCEPT !.loc[op.r] = E("starting", s.l)]
            ELSE IF s.loc[op.r] = NONE THEN [t EXCEPT !.loc[op.r] = E("releasing", s.l)]
            ELSE t
      [] out.k = "txn" /\ op.k = "release" ->
            [s EXCEPT !.wr = out.rev,
                      !.loc[op.r] = IF s.loc[op.r] # NONE /\ s.loc[op.r].st = "releasing"
                                    THEN NONE ELSE s.loc[op.r]]
      [] out.k = "txn" /\ op.k = "assign" ->
            IF out.ok /\ Hold THEN [s EXCEPT !.wr = out.rev, !.hold = TRUE, !.hr = out.rev]
            ELSE [s EXCEPT !.wr = out.rev]
      [] out.k = "txn" -> [s EXCEPT !.wr = out.rev]
      [] out.k \in {"POST_FAILED", "RETRYABLE"} -> [s EXCEPT !.backoff = TRUE]
      [] out.k = "FATAL" -> [s EXCEPT !.synced = FALSE, !.backoff = TRUE]
      [] out.k = "UNKNOWN" ->
            IF Mutant = "M6" THEN [s EXCEPT !.backoff = TRUE] ELSE [s EXCEPT !.synced = FALSE]

\* The application's commands an update of a node's entries gives: Start where an entry
\* became starting, Stop where a started one began to stop.
AddCmd(q, c) == IF q = NONE THEN c ELSE IF q = "start" /\ c = "stop" THEN "startstop" ELSE q
Cmds(q, old, new) ==
    [r \in Res |->
        LET o == old.loc[r]
            w == new.loc[r]
            start == w # NONE /\ w.st = "starting" /\ (o = NONE \/ o.st # "starting")
            stop == o # NONE /\ o.st \in {"starting", "running"}
                    /\ w # NONE /\ w.st \in {"stopping", "releasing"}
        IN IF start THEN AddCmd(q[r], "start")
           ELSE IF stop THEN AddCmd(q[r], "stop") ELSE q[r]]

\* A request the node gave up on while it was still on its way keeps going.
Orphaned(n, old, new) ==
    IF old.req # NONE /\ old.req.st = "sent" /\ new.req # old.req
    THEN wire (+) SetToBag({[n |-> n, op |-> old.req.op]}) ELSE wire

\* Node n takes an input that turned its record into s: drive it, and carry out the rest.
Step(n, s) ==
    \E t \in Drives(s, n) :
        /\ nd' = [nd EXCEPT ![n] = t]
        /\ appq' = [appq EXCEPT ![n] = Cmds(appq[n], nd[n], t)]
        /\ wire' = Orphaned(n, nd[n], t)

-----------------------------------------------------------------------------
(* The system *)

\* A settled group, as the fault-free run that joins the nodes in order reaches it: node i
\* holds lease i and registered at revision R0 + i; the first node was elected and wrote
\* epoch 1; every owner took its barriers in order.
Order(S) == CHOOSE f \in [1..Cardinality(S) -> S] : \A i, j \in DOMAIN f : i # j => f[i] # f[j]
N == Cardinality(Nodes)
NodeAt == Order(Nodes)
LeaseOf(n) == CHOOSE i \in 1..N : NodeAt[i] = n
ResAt == Order(InitialRes)
Share0 == Allocate(Nodes, InitialRes, NONE)
SettledReg ==
    [InitReg EXCEPT
        !.mem = [n \in Nodes |-> [l |-> LeaseOf(n), c |-> R0 + LeaseOf(n)]],
        !.ldr = [n |-> NodeAt[1], l |-> 1, c |-> R0 + N + 1],
        !.asg = [t |-> R0 + N + 1, e |-> 1, mem |-> Nodes, m |-> Share0, mr |-> R0 + N + 2],
        !.bar = [r \in Res |-> IF r \in InitialRes
                              THEN LET k == CHOOSE i \in DOMAIN ResAt : ResAt[i] = r
                                   IN [n |-> Share0[r], l |-> LeaseOf(Share0[r]), c |-> R0 + N + 2 + k]
                              ELSE NONE],
        !.leases = 1..N, !.next = N + 1, !.watchers = Nodes,
        !.rev = R0 + N + 2 + Cardinality(InitialRes)]
\* The revision of n's own last write in that run (wr): its registration, the leader's
\* assignment, its last barrier.
LastWrite(n) ==
    LET revs == {SettledReg.mem[n].c}
                \cup (IF n = NodeAt[1] THEN {SettledReg.asg.mr} ELSE {})
                \cup {SettledReg.bar[r].c : r \in {x \in InitialRes : Share0[x] = n}}
    IN CHOOSE m \in revs : \A x \in revs : x <= m
SettledNode(n) ==
    [FreshNode EXCEPT !.ph = "member", !.l = LeaseOf(n), !.view = Snap(SettledReg),
                      !.synced = TRUE, !.watch = TRUE, !.wr = LastWrite(n),
                      !.term = IF n = NodeAt[1] THEN R0 + N + 1 ELSE 0,
                      \* The leader wrote epoch 1 and holds for the interval.
                      !.hold = Hold /\ n = NodeAt[1], !.hr = IF n = NodeAt[1] THEN R0 + N + 2 ELSE 0,
                      !.loc = [r \in Res |-> IF r \in InitialRes /\ Share0[r] = n
                                             THEN E("running", LeaseOf(n)) ELSE NONE]]

Init ==
    /\ reg = IF Start = "settled" THEN SettledReg ELSE InitReg
    /\ nd = [n \in Nodes |-> IF Start = "settled" THEN SettledNode(n)
                              ELSE Drive([FreshNode EXCEPT !.ph = "joining"], n)]
    /\ appq = [n \in Nodes |-> [r \in Res |-> NONE]]
    /\ access = [n \in Nodes |-> IF Start = "settled"
                                  THEN {r \in InitialRes : Share0[r] = n} ELSE {}]
    /\ up = [n \in Nodes |-> TRUE]
    /\ wire = EmptyBag
    /\ lapsed = {}
    /\ budget = [crashes |-> MaxCrashes, rpc |-> MaxRpcFaults, expiries |-> MaxExpiries,
                 admin |-> MaxAdmin, membership |-> MaxMembership, watch |-> MaxWatchBreaks,
                 late |-> MaxLate]
    /\ writes = [fenced |-> TRUE, well |-> TRUE, sticky |-> TRUE]

\* The registry applies node n's request and answers it.
Deliver(n) ==
    /\ nd[n].req # NONE /\ nd[n].req.st = "sent"
    /\ LET x == Apply(reg, n, nd[n].req.op) IN
       /\ writes' = JudgeWrite(reg, n, nd[n].req.op)
       /\ reg' = x.g
       /\ nd' = [nd EXCEPT ![n].req.st = "replied", ![n].req.out = x.resp]
    /\ UNCHANGED <<appq, access, up, wire, lapsed, budget>>

\* Node n's request fails at one of the eight steps (applied first when the step says so).
Fail(n, step) ==
    /\ budget.rpc > 0
    /\ nd[n].req # NONE /\ nd[n].req.st = "sent"
    /\ budget' = [budget EXCEPT !.rpc = budget.rpc - 1]
    /\ IF Applied(step)
       THEN /\ reg' = Apply(reg, n, nd[n].req.op).g
            /\ writes' = JudgeWrite(reg, n, nd[n].req.op)
       ELSE UNCHANGED <<reg, writes>>
    /\ nd' = [nd EXCEPT ![n].req.st = "replied", ![n].req.out = StepOutcome(step)]
    /\ UNCHANGED <<appq, access, up, wire, lapsed>>

\* The client gives up waiting (UNKNOWN) while its request is still on its way: it may land
\* later, or never.
TimeOut(n) ==
    /\ budget.late > 0
    /\ nd[n].req # NONE /\ nd[n].req.st = "sent"
    /\ budget' = [budget EXCEPT !.late = budget.late - 1]
    /\ nd' = [nd EXCEPT ![n].req.st = "replied", ![n].req.out = [k |-> "UNKNOWN"]]
    /\ wire' = wire (+) SetToBag({[n |-> n, op |-> nd[n].req.op]})
    /\ UNCHANGED <<reg, appq, access, up, lapsed, writes>>

\* The network makes a second copy of a request on its way.
Duplicate(n) ==
    /\ budget.late > 0
    /\ nd[n].req # NONE /\ nd[n].req.st = "sent"
    /\ budget' = [budget EXCEPT !.late = budget.late - 1]
    /\ wire' = wire (+) SetToBag({[n |-> n, op |-> nd[n].req.op]})
    /\ UNCHANGED <<reg, nd, appq, access, up, lapsed, writes>>

\* A watch asked for from a revision the registry compacted away: the node re-reads.
WatchCompacted(n) ==
    /\ budget.watch > 0
    /\ nd[n].req # NONE /\ nd[n].req.st = "sent" /\ nd[n].req.op.k = "watch"
    /\ budget' = [budget EXCEPT !.watch = budget.watch - 1]
    /\ nd' = [nd EXCEPT ![n].req.st = "replied", ![n].req.out = [k |-> "compacted"]]
    /\ UNCHANGED <<reg, appq, access, up, wire, lapsed, writes>>

\* A request of a given-up or dead incarnation lands (nobody waits for its answer).
DeliverOrphan(w) ==
    /\ BagIn(w, wire)
    /\ reg' = Apply(reg, w.n, w.op).g
    /\ writes' = JudgeWrite(reg, w.n, w.op)
    /\ wire' = wire (-) SetToBag({w})
    /\ UNCHANGED <<nd, appq, access, up, lapsed, budget>>

\* A lingering request lands while the network still carries another copy of it.
DeliverOrphanKeep(w) ==
    /\ budget.late > 0 /\ BagIn(w, wire)
    /\ budget' = [budget EXCEPT !.late = budget.late - 1]
    /\ reg' = Apply(reg, w.n, w.op).g
    /\ writes' = JudgeWrite(reg, w.n, w.op)
    /\ UNCHANGED <<nd, appq, access, up, wire, lapsed>>

Reply(n) ==
    /\ up[n] /\ nd[n].req # NONE /\ nd[n].req.st = "replied"
    /\ Step(n, OnReply(nd[n], nd[n].req.out))
    /\ UNCHANGED <<reg, access, up, lapsed, budget, writes>>

\* The watch brings the node's view up to the registry as of snapshot snap (a revision the
\* registry passed through); the model checker takes the current one. Only a live watch: its
\* creation's answer read (mod.rs, Input::Watch), as etcd answers a watch on its stream
\* ahead of the events.
WatchTo(n, snap) ==
    /\ up[n] /\ n \in reg.watchers /\ nd[n].watch
    /\ nd[n].view # NONE /\ nd[n].view.rev < snap.rev
    /\ Step(n, [nd[n] EXCEPT !.view = snap])
    /\ UNCHANGED <<reg, access, up, lapsed, budget, writes>>

Watch(n) == WatchTo(n, Snap(reg))

\* The application carries out its pending command for r and acknowledges it.
App(n, r) ==
    /\ up[n] /\ appq[n][r] # NONE
    /\ LET c == appq[n][r]
           starts == c \in {"start", "startstop"}
           s == nd[n]
           e == s.loc[r]
           acked == IF starts
                    THEN IF e # NONE /\ e.st = "starting" THEN [s EXCEPT !.loc[r] = E("running", e.l)]
                         ELSE s
                    ELSE IF e # NONE /\ e.st = "stopping"
                         THEN [s EXCEPT !.loc[r] = IF s.ph = "member" /\ s.l = e.l
                                                   THEN E("releasing", e.l) ELSE NONE]
                         ELSE s
           rest == [appq[n] EXCEPT ![r] = IF c = "startstop" THEN "stop" ELSE NONE]
       IN /\ access' = [access EXCEPT ![n] = IF starts THEN @ \cup {r} ELSE @ \ {r}]
          /\ \E t \in Drives(acked, n) :
                /\ nd' = [nd EXCEPT ![n] = t]
                /\ appq' = [appq EXCEPT ![n] = Cmds(rest, acked, t)]
                /\ wire' = Orphaned(n, nd[n], t)
    /\ UNCHANGED <<reg, up, lapsed, budget, writes>>

\* The minimum rebalance interval has passed.
HoldOver(n) ==
    /\ up[n] /\ nd[n].hold
    /\ Step(n, [nd[n] EXCEPT !.hold = FALSE])
    /\ UNCHANGED <<reg, access, up, lapsed, budget, writes>>

\* A keep-alive finds the node's lease gone (it expired under the node): fence.
LeaseGone(n) ==
    /\ up[n] /\ nd[n].l # 0 /\ nd[n].l \notin reg.leases
    /\ Step(n, Fence(nd[n]))
    /\ UNCHANGED <<reg, access, up, lapsed, budget, writes>>

\* The retry back-off is over.
Retry(n) ==
    /\ up[n] /\ nd[n].backoff
    /\ Step(n, [nd[n] EXCEPT !.backoff = FALSE])
    /\ UNCHANGED <<reg, access, up, lapsed, budget, writes>>

\* Keep-alives stopped getting through: the fence deadline passes.
Lapse(n) ==
    /\ up[n] /\ budget.expiries > 0 /\ nd[n].l # 0
    /\ budget' = [budget EXCEPT !.expiries = budget.expiries - 1]
    /\ lapsed' = lapsed \cup {nd[n].l}
    /\ Step(n, Fence(nd[n]))
    /\ UNCHANGED <<reg, access, up, writes>>

Relies(n, l) == up[n] /\ (nd[n].l = l \/ \E r \in Res : MayAccess(nd[n].loc[r]) /\ nd[n].loc[r].l = l)
StopPending(n) == \E r \in Res : appq[n][r] \in {"stop", "startstop"}
Granting(l) == \E n \in Nodes : nd[n].req # NONE /\ nd[n].req.st = "replied"
                                /\ nd[n].req.out.k = "granted" /\ nd[n].req.out.l = l

\* The registry expires a lease: freely when nobody relies on it; under the timing assumption
\* only after its holder fenced and stopped; without it, at any moment (a budgeted breach).
ExpireSafe(l) ==
    /\ l \in reg.leases /\ ~Granting(l)
    /\ LET relying == {n \in Nodes : Relies(n, l)} IN
       \/ relying = {}
       \/ TimingAssumption /\ l \in lapsed /\ \A n \in relying : ~StopPending(n)
    /\ reg' = EndLease(reg, l)
    /\ lapsed' = lapsed \ {l}
    /\ UNCHANGED <<nd, appq, access, up, wire, budget, writes>>

ExpireBreach(l) ==
    /\ ~TimingAssumption /\ budget.expiries > 0
    /\ l \in reg.leases /\ ~Granting(l) /\ \E n \in Nodes : Relies(n, l)
    /\ budget' = [budget EXCEPT !.expiries = budget.expiries - 1]
    /\ reg' = EndLease(reg, l)
    /\ lapsed' = lapsed \ {l}
    /\ UNCHANGED <<nd, appq, access, up, wire, writes>>

Crash(n) ==
    /\ up[n] /\ budget.crashes > 0
    /\ budget' = [budget EXCEPT !.crashes = budget.crashes - 1]
    /\ up' = [up EXCEPT ![n] = FALSE]
    /\ nd' = [nd EXCEPT ![n] = FreshNode]
    /\ access' = [access EXCEPT ![n] = {}]
    /\ appq' = [appq EXCEPT ![n] = [r \in Res |-> NONE]]
    /\ wire' = Orphaned(n, nd[n], FreshNode)
    /\ reg' = [reg EXCEPT !.watchers = reg.watchers \ {n}]
    /\ UNCHANGED <<lapsed, writes>>

Restart(n) ==
    /\ ~up[n]
    /\ up' = [up EXCEPT ![n] = TRUE]
    /\ Step(n, [FreshNode EXCEPT !.ph = "joining"])
    /\ UNCHANGED <<reg, access, lapsed, budget, writes>>

Leave(n) ==
    /\ up[n] /\ budget.membership > 0 /\ nd[n].ph = "member"
    /\ budget' = [budget EXCEPT !.membership = budget.membership - 1]
    /\ Step(n, [nd[n] EXCEPT !.ph = "leaving"])
    /\ UNCHANGED <<reg, access, up, lapsed, writes>>

Join(n) ==
    /\ up[n] /\ budget.membership > 0 /\ nd[n].ph = "left"
    /\ budget' = [budget EXCEPT !.membership = budget.membership - 1]
    /\ Step(n, [nd[n] EXCEPT !.ph = "joining"])
    /\ UNCHANGED <<reg, access, up, lapsed, writes>>

\* The watch stream breaks; a watch being created is given up.
BreakWatch(n) ==
    /\ up[n] /\ budget.watch > 0 /\ n \in reg.watchers
    /\ budget' = [budget EXCEPT !.watch = budget.watch - 1]
    /\ reg' = [reg EXCEPT !.watchers = reg.watchers \ {n}]
    /\ LET s == [nd[n] EXCEPT !.watch = FALSE, !.synced = FALSE,
                              !.req = IF nd[n].req # NONE /\ nd[n].req.op.k = "watch"
                                      THEN NONE ELSE nd[n].req]
       IN Step(n, s)
    /\ UNCHANGED <<access, up, lapsed, writes>>

\* admin.rs: add a resource, or remove one (M1 also deletes its barrier).
Admin(r) ==
    /\ budget.admin > 0
    /\ budget' = [budget EXCEPT !.admin = budget.admin - 1]
    /\ reg' = Bump(IF r \in reg.res
                   THEN [reg EXCEPT !.res = reg.res \ {r},
                                    !.bar[r] = IF Mutant = "M1" THEN NONE ELSE reg.bar[r]]
                   ELSE [reg EXCEPT !.res = reg.res \cup {r}])
    /\ UNCHANGED <<nd, appq, access, up, wire, lapsed, writes>>

Progress ==
    \/ \E n \in Nodes : Deliver(n) \/ Reply(n) \/ Watch(n) \/ Retry(n) \/ Restart(n)
                        \/ HoldOver(n) \/ LeaseGone(n) \/ \E r \in Res : App(n, r)
    \/ \E w \in BagToSet(wire) : DeliverOrphan(w)
    \/ \E l \in reg.leases : ExpireSafe(l)

Faults ==
    \/ \E n \in Nodes : Crash(n) \/ Lapse(n) \/ Leave(n) \/ Join(n) \/ BreakWatch(n)
                        \/ TimeOut(n) \/ Duplicate(n) \/ WatchCompacted(n)
                        \/ \E step \in Steps : Fail(n, step)
    \/ \E w \in BagToSet(wire) : DeliverOrphanKeep(w)
    \/ \E l \in reg.leases : ExpireBreach(l)
    \/ \E r \in Res : Admin(r)

Next == Progress \/ Faults

\* Faults are budgeted, so they stop; fault-free steps always come to rest, so weak fairness
\* on all of them together means every enabled step of progress is eventually taken.
Fairness == WF_vars(Progress)

Spec == Init /\ [][Next]_vars
LiveSpec == Spec /\ Fairness

-----------------------------------------------------------------------------
(* The properties of DESIGN.md section 7 *)

Live(n) == up[n] /\ nd[n].ph = "member"

no_double_access == \A a, b \in Nodes : a # b => access[a] \cap access[b] = {}

access_holds_barrier ==
    \A n \in Nodes : \A r \in access[n] : reg.bar[r] # NONE /\ reg.bar[r].n = n

assignment_well_formed == writes.well

sticky_assignment == writes.sticky

fenced_writes == writes.fenced

AllAccessed ==
    /\ \A n \in Nodes : (up[n] /\ ~Live(n)) => access[n] = {}
    /\ \A r \in reg.res : Cardinality({n \in Nodes : Live(n) /\ r \in access[n]}) = 1
    /\ \A n \in Nodes : Live(n) => access[n] \subseteq reg.res
    /\ \A a, b \in Nodes : (Live(a) /\ Live(b))
            => Cardinality(access[a]) <= Cardinality(access[b]) + 1

\* node/mod.rs: applied -- it runs exactly its share of its view's assignment.
AppliedBy(n) ==
    LET s == nd[n] IN
    IF s.ph # "member" \/ ~s.synced \/ s.view = NONE \/ s.view.asg = NONE \/ s.view.rev < s.wr
    THEN NONE
    ELSE LET share == {r \in DOMAIN s.view.asg.m : s.view.asg.m[r] = n /\ r \in s.view.res}
         IN IF \A r \in Res : (r \in share) = (s.loc[r] # NONE /\ s.loc[r].st = "running")
            THEN <<s.view.asg.t, s.view.asg.e>> ELSE NONE

Active(n) == up[n] /\ nd[n].ph \notin {"idle", "left"}

Rebalanced ==
    IF reg.asg = NONE THEN \A n \in Nodes : ~Active(n)
    ELSE /\ reg.asg.mem = Members(reg)
         /\ DOMAIN reg.asg.m = reg.res
         /\ \A n \in Nodes : Active(n) => AppliedBy(n) = <<reg.asg.t, reg.asg.e>>

all_resources_accessed == <>[]AllAccessed
rebalance_completes == <>[]Rebalanced

\* Not vacuous: some behaviour gets every resource accessed.
sometimes_all_resources_accessed == ~AllAccessed

\* Keeps lease and revision numbers finite where budgets alone would not.
TypeOK ==
    /\ \A n \in Nodes : nd[n].ph \in {"idle", "joining", "member", "leaving", "left"}
    /\ \A n \in Nodes : \A r \in Res : appq[n][r] \in {NONE, "start", "stop", "startstop"}
=============================================================================
