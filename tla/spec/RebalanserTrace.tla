--------------------------- MODULE RebalanserTrace ---------------------------
(***************************************************************************)
(* Trace validation: is a simulator run (rebalanser replay --trace-json) a *)
(* behaviour of the spec?  `rebalanser tla --validate-trace` writes the    *)
(* runs as module TraceData: T[k] is one run, with the registry it starts  *)
(* from (reg0), the state after every node asked to join (obs0), the spec  *)
(* actions its events amount to (acts), and after the last action of each *)
(* event the state the spec must be in (obs[i], or NONE in between).       *)
(*                                                                         *)
(* Each action is taken with its logged arguments, and where the protocol *)
(* leaves a choice (Pick) the spec tries every option: only those that     *)
(* match the logged state survive. The runs are checked one after another *)
(* in one linear behaviour: the traces are accepted exactly when TLC's     *)
(* search reaches the end of the last run, at depth 1 + (actions of all    *)
(* runs) + (runs - 1); a shorter depth says where the spec could not go on. *)
(***************************************************************************)
EXTENDS TraceData, Sequences, TLC

VARIABLES
    t,      \* the run being checked
    i,      \* its actions taken so far
    hist    \* the registry's snapshot at each revision it passed (what a watch delivers)

tvars == <<vars, t, i, hist>>

\* The state after every node of run k asked to join (the spec's joining start).
Start0(k) ==
    [reg |-> T[k].reg0,
     nd |-> [n \in Nodes |-> Drive([FreshNode EXCEPT !.ph = "joining"], n)],
     appq |-> [n \in Nodes |-> [r \in Res |-> NONE]],
     access |-> [n \in Nodes |-> {}],
     up |-> [n \in Nodes |-> TRUE],
     wire |-> EmptyBag,
     lapsed |-> {},
     budget |-> [crashes |-> MaxCrashes, rpc |-> MaxRpcFaults, expiries |-> MaxExpiries,
                 admin |-> MaxAdmin, membership |-> MaxMembership, watch |-> MaxWatchBreaks,
                 late |-> MaxLate],
     writes |-> [fenced |-> TRUE, well |-> TRUE, sticky |-> TRUE]]

\* What the simulator logs of the state.
NodeSeen(n) ==
    LET s == nd[n] IN
    [up |-> up[n], ph |-> s.ph, l |-> s.l, term |-> s.term, vrev |-> ViewRev(s),
     synced |-> s.synced, watch |-> s.watch, backoff |-> s.backoff, hold |-> s.hold,
     wr |-> s.wr, loc |-> s.loc, req |-> IF s.req = NONE THEN NONE ELSE s.req.op]
Seen ==
    [reg |-> [rev |-> reg.rev, mem |-> reg.mem, ldr |-> reg.ldr, res |-> reg.res,
              asg |-> reg.asg, bar |-> reg.bar, leases |-> reg.leases],
     nd |-> [n \in Nodes |-> NodeSeen(n)],
     access |-> access]

TraceInit ==
    /\ t = 1
    /\ i = 0
    /\ LET s == Start0(1) IN
       /\ reg = s.reg /\ nd = s.nd /\ appq = s.appq /\ access = s.access /\ up = s.up
       /\ wire = s.wire /\ lapsed = s.lapsed /\ budget = s.budget /\ writes = s.writes
    /\ hist = [r \in {T[1].reg0.rev} |-> Snap(T[1].reg0)]
    /\ Seen = T[1].obs0

\* The spec action a logged action names.
Do(x) ==
    CASE x.a = "Deliver" -> Deliver(x.n)
      [] x.a = "Fail" -> Fail(x.n, x.step)
      [] x.a = "TimeOut" -> TimeOut(x.n)
      [] x.a = "Duplicate" -> Duplicate(x.n)
      [] x.a = "WatchCompacted" -> WatchCompacted(x.n)
      [] x.a = "DeliverOrphan" -> DeliverOrphan([n |-> x.n, op |-> x.op])
      [] x.a = "DeliverOrphanKeep" -> DeliverOrphanKeep([n |-> x.n, op |-> x.op])
      [] x.a = "Reply" -> Reply(x.n)
      [] x.a = "WatchTo" -> x.rev \in DOMAIN hist /\ WatchTo(x.n, hist[x.rev])
      [] x.a = "App" -> App(x.n, x.r)
      [] x.a = "Retry" -> Retry(x.n)
      [] x.a = "HoldOver" -> HoldOver(x.n)
      [] x.a = "LeaseGone" -> LeaseGone(x.n)
      [] x.a = "Lapse" -> Lapse(x.n)
      [] x.a = "Expire" -> ExpireSafe(x.l)
      [] x.a = "Crash" -> Crash(x.n)
      [] x.a = "Restart" -> Restart(x.n)
      [] x.a = "Leave" -> Leave(x.n)
      [] x.a = "Join" -> Join(x.n)
      [] x.a = "BreakWatch" -> BreakWatch(x.n)
      [] x.a = "Admin" -> Admin(x.r)

Remember == hist' = IF reg'.rev \in DOMAIN hist THEN hist ELSE hist @@ (reg'.rev :> Snap(reg'))

\* The next logged action of this run, matching the logged state where there is one.
TakeAction ==
    /\ i < Len(T[t].acts)
    /\ Do(T[t].acts[i + 1])
    /\ i' = i + 1
    /\ t' = t
    /\ Remember
    /\ T[t].obs[i + 1] = NONE \/ Seen' = T[t].obs[i + 1]

\* On to the next run, from its own start.
NextRun ==
    /\ i = Len(T[t].acts) /\ t < Len(T)
    /\ t' = t + 1
    /\ i' = 0
    /\ LET s == Start0(t + 1) IN
       /\ reg' = s.reg /\ nd' = s.nd /\ appq' = s.appq /\ access' = s.access /\ up' = s.up
       /\ wire' = s.wire /\ lapsed' = s.lapsed /\ budget' = s.budget /\ writes' = s.writes
    /\ hist' = [r \in {T[t + 1].reg0.rev} |-> Snap(T[t + 1].reg0)]
    /\ Seen' = T[t + 1].obs0

TraceNext == TakeAction \/ NextRun

=============================================================================
