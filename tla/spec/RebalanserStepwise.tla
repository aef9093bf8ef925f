------------------------- MODULE RebalanserStepwise -------------------------
(***************************************************************************)
(* The spec with each watch stream delivered one revision at a time, as    *)
(* etcd and the code deliver it. Rebalanser's Watch takes a node's view to *)
(* the registry's current state in one step: fewer states to check, but it *)
(* admits views the code never has (a node that skips a revision it would *)
(* have acted on). Counterexample replay (rebalanser tla --replay) checks   *)
(* this module, with Watch <- WatchNext in its configuration, so that      *)
(* every step of TLC's counterexample is one the Rust core can take.       *)
(***************************************************************************)
EXTENDS Rebalanser

VARIABLE hist   \* the registry's snapshot at each revision it passed through

svars == <<vars, hist>>

Remember == hist' = IF reg'.rev \in DOMAIN hist THEN hist ELSE hist @@ (reg'.rev :> Snap(reg'))

\* The first revision after v the registry passed through.
NextRev(v) == CHOOSE r \in DOMAIN hist : r > v /\ \A x \in DOMAIN hist : x > v => r <= x

WatchNext(n) ==
    /\ nd[n].view # NONE /\ nd[n].view.rev < reg.rev
    /\ WatchTo(n, hist[NextRev(nd[n].view.rev)])

StepInit == Init /\ hist = [r \in {reg.rev} |-> Snap(reg)]
StepNext == Next /\ Remember
StepSpec == StepInit /\ [][StepNext]_svars
StepLiveSpec == StepSpec /\ WF_svars(Progress /\ Remember)

=============================================================================
