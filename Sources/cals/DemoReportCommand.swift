import ArgumentParser
import Common
import Foundation
import Training

/// `cals demo-report RUNS`: the page `make demo` ends with, RUNS/report.html, and the one-line
/// verdict on the terminal.
struct DemoReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-report",
        abstract: "Write RUNS/report.html (evaluation table, loss plots, grids, the dubbed and side-by-side videos) and print the verdict.",
        discussion: """
            RUNS is the demo's run folder (runs/demo): sync/, a2l/ and l2f/ runs, l2f/eval.json from `cals eval l2f`, \
            dub.mp4 and side-by-side.mp4 from `cals dub`. The page links them by relative paths and loads nothing \
            from the network, so the folder can be opened (or copied) and read offline. Its layout is fixed \
            (DemoReport.layout): the table and the plots sit at known places, where the headless-browser test looks.
            """)

    @Argument(help: "The demo's run folder.") var runs: String

    func run() throws {
        let report = try DemoReport(runs: runs)
        let path = (runs as NSString).appendingPathComponent("report.html")
        do { try report.html.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw InputError(path, "cannot write: \(error.localizedDescription)")
        }
        print("report: \(path)")
        print(report.verdict)
    }
}

/// What the demo's report page shows, read from a demo run folder. Every file is named relative
/// to the folder and must exist.
struct DemoReport {
    /// Pixel geometry of the page (CSS px): a header, the table, then the three loss plots in one
    /// row; grids and videos follow below.
    enum Layout {
        static let width = 1280, header = 90, table = 230, plotWidth = 400, plotHeight = 330
    }

    static let plots = [("sync encoder", "sync/plot.png"), ("A2L", "a2l/plot.png"), ("L2F", "l2f/loss.png")]
    static let videos = [("dub.mp4", "a held-out speaker's clip dubbed with speech no model heard (espeak-ng, a new sentence)"),
                         ("side-by-side.mp4", "the held-out speaker's clip with its own speech: real | copy the reference | generated")]

    let evaluation: L2FEvaluation
    /// The grid images of the L2F run, by step.
    let grids: [String]

    init(runs: String) throws {
        let folder = URL(fileURLWithPath: runs)
        let evalPath = folder.appendingPathComponent("l2f/eval.json").path
        guard let data = FileManager.default.contents(atPath: evalPath) else { throw InputError(evalPath, "cannot read (run `cals eval l2f --json` first)") }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { evaluation = try decoder.decode(L2FEvaluation.self, from: data) } catch {
            throw InputError(evalPath, "not an evaluation of `cals eval l2f`: \(error)")
        }
        let l2f = folder.appendingPathComponent("l2f").path
        grids = ((try? FileManager.default.contentsOfDirectory(atPath: l2f)) ?? [])
            .filter { $0.hasPrefix("grid-") && $0.hasSuffix(".png") }.sorted().map { "l2f/" + $0 }
        for file in Self.plots.map(\.1) + Self.videos.map(\.0) + grids.suffix(1) {
            let path = folder.appendingPathComponent(file).path
            guard FileManager.default.fileExists(atPath: path) else { throw InputError(path, "missing (`make demo` writes it)") }
        }
        guard !grids.isEmpty else { throw InputError(l2f, "holds no grid-<step>.png") }
    }

    /// The speakers the evaluation scored (the demo's held-out one).
    var speaker: String { evaluation.speakers?.joined(separator: ",") ?? "all" }

    /// One line: does generated beat copy-the-reference on mouth PSNR and on sync distance?
    var verdict: String {
        guard let c = evaluation.copyReference else { return "verdict: the evaluation has no copy-the-reference row (scored with --no-baselines)" }
        let g = evaluation.generated
        let psnr = g.mouthPSNR > c.mouthPSNR, sync = g.syncDistance < c.syncDistance
        let answer = psnr && sync ? "generated BEATS copy-the-reference" : psnr || sync ? "generated beats copy-the-reference on one of two"
            : "generated does NOT beat copy-the-reference"
        return String(format: "verdict (speaker %@, %d clips): %@ — mouth PSNR %.2f vs %.2f dB (%@), sync distance %.3f vs %.3f (%@, lower is better)",
                      speaker, evaluation.clips, answer, g.mouthPSNR, c.mouthPSNR, psnr ? "better" : "not better",
                      g.syncDistance, c.syncDistance, sync ? "better" : "not better")
    }

    var html: String {
        func f(_ x: Double?, _ digits: Int = 3) -> String {
            guard let x else { return "–" }
            return x.isInfinite ? "∞" : String(format: "%.\(digits)f", x)
        }
        let rows = [("generated", evaluation.generated), ("copy the reference", evaluation.copyReference),
                    ("copy the aligned reference", evaluation.copyAlignedReference), ("real video", evaluation.real)]
            .compactMap { name, scores in scores.map { (name, $0) } }
            .map { name, s in
                "<tr><th>\(name)</th><td>\(f(s.psnr, 2))</td><td>\(f(s.ssim))</td><td>\(f(s.mouthPSNR, 2))</td>"
                    + "<td>\(f(s.syncDistance))</td><td>\(f(s.syncConfidence))</td><td>\(f(s.lmd))</td></tr>"
            }.joined(separator: "\n")
        let plots = Self.plots.map { title, file in
            "<figure><img src=\"\(file)\" alt=\"\(title) losses\"><figcaption>\(title): \(file)</figcaption></figure>"
        }.joined(separator: "\n")
        let grids = grids.map { "<figure><img class=\"grid\" src=\"\($0)\" alt=\"grid\"><figcaption>\($0): real (top), generated (bottom)</figcaption></figure>" }
            .joined(separator: "\n")
        let videos = Self.videos.map { file, caption in
            "<figure><video controls preload=\"metadata\" src=\"\(file)\"></video><figcaption>\(file): \(caption)</figcaption></figure>"
        }.joined(separator: "\n")
        typealias L = Layout
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>cals demo report</title>
            <style>
            body { margin: 0; width: \(L.width)px; font: 15px/1.3 sans-serif; color: #111; background: #fff; }
            header { height: \(L.header)px; box-sizing: border-box; padding: 12px 16px; overflow: hidden; }
            h1 { font-size: 22px; margin: 0 0 6px; } h2 { font-size: 18px; margin: 18px 16px 6px; }
            #evaluation { height: \(L.table)px; box-sizing: border-box; padding: 0 16px; overflow: hidden; }
            table { border-collapse: collapse; } th, td { border: 1px solid #888; padding: 4px 10px; text-align: right; }
            th:first-child { text-align: left; }
            #plots { display: flex; height: \(L.plotHeight + 30)px; padding: 0 10px; }
            #plots img { width: \(L.plotWidth)px; height: \(L.plotHeight)px; display: block; }
            figure { margin: 0 4px 10px; } figcaption { font-size: 13px; color: #444; }
            img.grid { max-width: \(L.width - 40)px; } video { width: 760px; }
            </style></head>
            <body>
            <header><h1>cals demo: dubbing a speaker no model trained on</h1>
            <div>\(escaped(verdict))</div></header>
            <section id="evaluation">
            <div>\(escaped("speaker \(speaker), split \(evaluation.split): \(evaluation.clips) clips, \(evaluation.frames) frames; \(evaluation.syncNote)"))</div>
            <table>
            <tr><th>system</th><th>PSNR</th><th>SSIM</th><th>mouth PSNR</th><th>sync distance</th><th>sync confidence</th><th>LMD</th></tr>
            \(rows)
            </table>
            \(evaluation.lmdNote.map { "<div>\(escaped($0))</div>" } ?? "")
            </section>
            <section id="plots">
            \(plots)
            </section>
            <h2>Grids of the fixed held-out window</h2>
            \(grids)
            <h2>Videos</h2>
            \(videos)
            </body></html>

            """
    }

    func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
