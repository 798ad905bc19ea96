import ArgumentParser
import Common
import Foundation
import Training

/// `cals experiment ablation-summary --runs DIR [--treatment a2l] [--baseline window] [--json FILE]`
struct AblationSummary: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ablation-summary",
        abstract: "The A2L-vs-window table: each run's held-out scores averaged over its scored checkpoints, and a paired comparison across seeds.",
        discussion: """
            Reads DIR/<arm>-s<seed>/eval-<step>.json (`cals eval l2f --json` of the kept checkpoints to average, e.g. \
            those of the last third of training). A run's score is the mean over its files; the arms --treatment and \
            --baseline are paired by seed (both runs of a pair must have scored the same steps): mean difference \
            treatment − baseline, its standard error, and an exact sign test. Other arms (e.g. no-dav, no-dvv) are \
            listed as rows. Prints Markdown; --json writes the same numbers.
            """)

    @Option(help: "Folder of the run folders <arm>-s<seed>.") var runs: String
    @Option(help: "Arm whose runs are compared against --baseline.") var treatment = "a2l"
    @Option(help: "Baseline arm.") var baseline = "window"
    @Option(help: "Write the summary as JSON here.") var json: String?

    /// One run: the generated frames' scores averaged over the evaluated checkpoints.
    struct Run: Codable {
        let arm: String, seed: Int, steps: [Int]
        let syncDistance: Double, syncConfidence: Double, mouthPSNR: Double, lmd: Double?
    }

    /// One metric's paired comparison; `better` says which sign of treatment − baseline favours the treatment.
    struct Metric: Codable {
        let name: String, better: String, comparison: PairedComparison
        /// Pairs in which the treatment is better, and the one-sided sign-test p of "treatment better".
        var treatmentBetter: Int { better == "lower" ? comparison.below : comparison.above }
        var signTestTreatmentBetter: Double { better == "lower" ? comparison.signTestBelow : comparison.signTestAbove }
    }

    struct Summary: Codable {
        let treatment: String, baseline: String, seeds: [Int], runs: [Run], paired: [Metric]
    }

    func run() throws {
        let summary = try summarize()
        print(markdown(summary))
        if let json { try writeJSON(summary, to: json) }
    }

    func summarize() throws -> Summary {
        let manager = FileManager.default
        let folders: [String]
        do { folders = try manager.contentsOfDirectory(atPath: runs).sorted() } catch {
            throw InputError(runs, "cannot list: \(error.localizedDescription)")
        }
        var found: [Run] = []
        for folder in folders {
            guard let (arm, seed) = Self.armAndSeed(folder) else { continue }
            let path = (runs as NSString).appendingPathComponent(folder)
            let files = ((try? manager.contentsOfDirectory(atPath: path)) ?? []).compactMap { name -> (Int, String)? in
                guard name.hasPrefix("eval-"), name.hasSuffix(".json"),
                      let step = Int(name.dropFirst(5).dropLast(5)) else { return nil }
                return (step, (path as NSString).appendingPathComponent(name))
            }.sorted { $0.0 < $1.0 }
            if files.isEmpty { continue }
            let scores = try files.map { try Self.read($0.1).generated }
            let n = Double(scores.count)
            func mean(_ value: (L2FScores) -> Double) -> Double { scores.map(value).reduce(0, +) / n }
            let lmds = scores.compactMap(\.lmd)
            found.append(Run(arm: arm, seed: seed, steps: files.map(\.0),
                             syncDistance: mean(\.syncDistance), syncConfidence: mean(\.syncConfidence),
                             mouthPSNR: mean(\.mouthPSNR), lmd: lmds.count == scores.count ? lmds.reduce(0, +) / n : nil))
        }
        let treated = Dictionary(found.filter { $0.arm == treatment }.map { ($0.seed, $0) }, uniquingKeysWith: { a, _ in a })
        let base = Dictionary(found.filter { $0.arm == baseline }.map { ($0.seed, $0) }, uniquingKeysWith: { a, _ in a })
        let pairs = treated.values.sorted { $0.seed < $1.seed }.compactMap { t in base[t.seed].map { (treated: t, baseline: $0) } }
        guard !pairs.isEmpty else {
            throw InputError(runs, "no seed has scored runs of both \(treatment) and \(baseline) (folders <arm>-s<seed> with eval-<step>.json)")
        }
        for pair in pairs where pair.treated.steps != pair.baseline.steps {
            throw InputError(runs, "seed \(pair.baseline.seed): \(treatment) scored steps \(pair.treated.steps), \(baseline) "
                             + "\(pair.baseline.steps); a pair must score the same")
        }
        func paired(_ name: String, _ better: String, _ value: (Run) -> Double?) -> Metric? {
            var differences: [Double] = []
            for pair in pairs {
                guard let t = value(pair.treated), let b = value(pair.baseline) else { return nil }
                differences.append(t - b)
            }
            return Metric(name: name, better: better, comparison: PairedComparison(differences: differences))
        }
        let metrics = [paired("sync distance", "lower", \.syncDistance), paired("sync confidence", "higher", \.syncConfidence),
                       paired("mouth PSNR (dB)", "higher", \.mouthPSNR), paired("LMD (px)", "lower", \.lmd)].compactMap { $0 }
        let order = [treatment, baseline]
        let sorted = found.sorted { a, b in
            let (i, j) = (order.firstIndex(of: a.arm) ?? 2, order.firstIndex(of: b.arm) ?? 2)
            return (i, a.arm, a.seed) < (j, b.arm, b.seed)
        }
        return Summary(treatment: treatment, baseline: baseline, seeds: pairs.map(\.baseline.seed), runs: sorted, paired: metrics)
    }

    /// "a2l-s3" → ("a2l", 3); nil for folders of another form.
    static func armAndSeed(_ folder: String) -> (String, Int)? {
        guard let dash = folder.range(of: "-s", options: .backwards), let seed = Int(folder[dash.upperBound...]),
              dash.lowerBound > folder.startIndex else { return nil }
        return (String(folder[..<dash.lowerBound]), seed)
    }

    static func read(_ path: String) throws -> L2FEvaluation {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return try decoder.decode(L2FEvaluation.self, from: try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            throw InputError(path, "not an L2F evaluation: \(error)")
        }
    }

    func markdown(_ s: Summary) -> String {
        func f(_ x: Double?, _ digits: Int = 3) -> String { x.map { String(format: "%.\(digits)f", $0) } ?? "–" }
        var lines = ["| arm | seed | checkpoints (steps) | sync distance ↓ | sync confidence ↑ | mouth PSNR dB ↑ | LMD ↓ |",
                     "|---|---:|---|---:|---:|---:|---:|"]
        for r in s.runs {
            let steps = "\(r.steps.count) (" + (r.steps.count > 2 ? "\(r.steps[0]), …, \(r.steps[r.steps.count - 1])"
                                                 : r.steps.map(String.init).joined(separator: ", ")) + ")"
            lines.append("| \(r.arm) | \(r.seed) | \(steps) | \(f(r.syncDistance)) | \(f(r.syncConfidence)) | \(f(r.mouthPSNR, 2)) | \(f(r.lmd)) |")
        }
        lines += ["", "Paired over seeds \(s.seeds.map(String.init).joined(separator: ", ")) (\(s.treatment) − \(s.baseline)):", "",
                  "| metric | mean difference | standard error | \(s.treatment) better in | sign test p (one-sided) | p (two-sided) |",
                  "|---|---:|---:|---:|---:|---:|"]
        for m in s.paired {
            let c = m.comparison
            lines.append("| \(m.name) (\(m.better) is better) | \(f(c.mean, 4)) | \(f(c.standardError, 4)) | \(m.treatmentBetter) of \(c.differences.count)"
                         + (c.ties > 0 ? " (\(c.ties) tied)" : "") + " | \(f(m.signTestTreatmentBetter, 4)) | \(f(c.signTestTwoSided, 4)) |")
        }
        return lines.joined(separator: "\n")
    }
}
