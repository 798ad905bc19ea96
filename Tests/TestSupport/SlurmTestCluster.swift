import Foundation

/// A real one-node Slurm cluster for a test (tools/slurm-test-cluster.sh: munged, slurmctld and
/// slurmd in a scratch folder), stopped on deinit before its folder is removed.
public final class SlurmTestCluster {
    static let script = TestEnv.repoRoot.path + "/tools/slurm-test-cluster.sh"

    /// The programs the cluster needs that are not installed (`make apt` installs slurm-wlm and munge).
    public static func missingPrograms() throws -> [String] {
        try ["munged", "slurmctld", "slurmd", "sbatch"].filter { try run("which", [$0]).status != 0 }
    }

    /// The environment for Slurm's commands (SLURM_CONF).
    public let environment: [String: String]
    private let scratch = ScratchDir("slurm-cluster")

    /// Starts the cluster (a few seconds).
    public init() throws {
        let r = try run(Self.script, ["start", scratch.path("cluster")])
        guard r.status == 0, let line = r.stdout.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("SLURM_CONF=") }) else {
            _ = try? run(Self.script, ["stop", scratch.path("cluster")])
            throw InputErrorForTests("the test cluster did not start: \(r.stderr)")
        }
        environment = ["SLURM_CONF": String(line.dropFirst("SLURM_CONF=".count))]
    }

    deinit { _ = try? run(Self.script, ["stop", scratch.path("cluster")]) }

    /// `JobState` and `Reason` of a job, from scontrol.
    public func job(_ id: String) throws -> (state: String, reason: String) {
        let text = try run("scontrol", ["show", "job", "-o", id], environment: environment).stdout
        func field(_ name: String) -> String {
            text.split(separator: " ").first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) } ?? "?"
        }
        return (field("JobState"), field("Reason"))
    }

    /// Waits (at most `seconds`) until the job has ended or can never run; its last state.
    public func waitForJob(_ id: String, seconds: Double = 300) throws -> (state: String, reason: String) {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let state = try job(id)
            if ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL"].contains(state.state)
                || state.reason == "DependencyNeverSatisfied" {
                return state
            }
            sleep(1)
        }
        return try job(id)
    }
}
