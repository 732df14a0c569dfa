"""The import dialog: pick a file, check the column mapping on a preview, choose what to do
with duplicates, and watch the rows go in (rows/s, cancel) while the window stays usable.

The import runs on a worker thread (its own database connection); progress and the result
come back as queued signals. Cancelling rolls the whole import back.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nurturedesk.core import importer
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import UserError
from nurturedesk.core.stages import list_stages

FIELD_LABELS = {
    "email": "Email",
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name (split)",
    "company": "Company",
    "title": "Job title",
    "phone": "Phone",
    "source": "Source",
    "owner": "Owner",
    "timezone": "Time zone",
    "tags": "Tags",
    "stage": "Stage",
}
POLICY_LABELS = {
    "skip": "Skip them (keep what is in NurtureDesk)",
    "update": "Update them (the file's non-blank values win)",
    "merge": "Merge (only fill what is missing)",
}
PREVIEW_ROWS = 20
# (label, codec): "" is what the file looks like (BOM, UTF-8, else charset detection).
ENCODINGS = (
    ("Detect", ""),
    ("Unicode (UTF-8)", "utf-8"),
    ("Unicode (UTF-16)", "utf-16"),
    ("Western European (Windows-1252)", "cp1252"),
    ("Central European (Windows-1250)", "cp1250"),
    ("Cyrillic (Windows-1251)", "cp1251"),
    ("Greek (Windows-1253)", "cp1253"),
    ("Turkish (Windows-1254)", "cp1254"),
    ("Western European (ISO-8859-1)", "latin-1"),
    ("Central European (ISO-8859-2)", "iso8859-2"),
    ("Western European (Mac Roman)", "mac-roman"),
    ("Japanese (Shift JIS)", "shift_jis"),
)


class _ImportSignals(QObject):
    progress = Signal(object)  # ImportProgress
    finished = Signal(object)  # ImportResult
    failed = Signal(str)


class ImportDialog(QDialog):
    imported = Signal(object, object)  # ImportResult, ImportOptions (for the undo stack)

    def __init__(
        self, workspace: Workspace, parent: QWidget | None = None, path: str | Path | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import leads")
        self.setObjectName("importDialog")
        self.resize(900, 600)
        self.workspace = workspace
        self.preview: importer.ImportPreview | None = None
        self.import_result: importer.ImportResult | None = None
        self.options: importer.ImportOptions | None = None
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._signals = _ImportSignals(self)
        self._signals.progress.connect(self._on_progress)
        self._signals.finished.connect(self._on_finished)
        self._signals.failed.connect(self._on_failed)

        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("importPath")
        self.path_edit.setPlaceholderText("A CSV, TSV or Excel (.xlsx) file")
        self.path_edit.editingFinished.connect(self.load_preview)
        self.browse_button = QPushButton("Choose File…")
        self.browse_button.clicked.connect(self.choose_file)
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.browse_button)
        layout.addLayout(row)

        row = QHBoxLayout()
        self.file_info = QLabel()
        self.file_info.setObjectName("fileInfo")
        self.file_info.setWordWrap(True)
        row.addWidget(self.file_info, 1)
        # Detection can be wrong (Polish cp1250 read as cp1252 looks nearly right): the user
        # who sees "Zak³ad" in the preview picks the encoding, and the preview follows.
        self.encoding = QComboBox()
        self.encoding.setObjectName("importEncoding")
        for label, name in ENCODINGS:
            self.encoding.addItem(label, name)
        self.encoding.currentIndexChanged.connect(lambda _i: self.load_preview())
        row.addWidget(QLabel("Encoding:"))
        row.addWidget(self.encoding)
        layout.addLayout(row)
        self.table = QTableWidget()
        self.table.setObjectName("importPreview")
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(self.table, 1)

        form = QFormLayout()
        self.keep_unknown = QCheckBox("Keep columns NurtureDesk does not know as custom fields")
        self.keep_unknown.setChecked(True)
        self.keep_unknown.toggled.connect(lambda _on: self.load_preview())
        form.addRow(self.keep_unknown)
        self.policy = QComboBox()
        self.policy.setObjectName("duplicatePolicy")
        for key, label in POLICY_LABELS.items():
            self.policy.addItem(label, key)
        form.addRow("Leads already in NurtureDesk:", self.policy)
        self.stage = QComboBox()
        self.stage.setObjectName("importStage")
        for stage in list_stages(workspace):
            self.stage.addItem(stage.name, stage.name)
        form.addRow("Put new leads in:", self.stage)
        self.tags = QLineEdit()
        self.tags.setObjectName("importTags")
        self.tags.setPlaceholderText("e.g. Trade fair 2026, webinar (comma-separated)")
        form.addRow("Tag imported leads:", self.tags)
        self.source = QLineEdit()
        self.source.setObjectName("importSource")
        self.source.setPlaceholderText("for rows that give no source")
        form.addRow("Source:", self.source)
        layout.addLayout(form)
        # What the running import was started with: locked until it ends, so the dialog
        # never shows a choice (a stage, a file) that the import is not using.
        self.choices: tuple[QWidget, ...] = (
            self.path_edit,
            self.browse_button,
            self.encoding,
            self.table,
            self.keep_unknown,
            self.policy,
            self.stage,
            self.tags,
            self.source,
        )

        self.progress = QProgressBar()
        self.progress.setObjectName("importProgress")
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
        self.status = QLabel()
        self.status.setObjectName("importStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)

        self.buttons = QDialogButtonBox()
        self.import_button = self.buttons.addButton(
            "Import", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.import_button.setObjectName("importButton")
        self.import_button.setEnabled(False)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.import_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel_or_close)
        layout.addWidget(self.buttons)
        if path is not None:
            self.path_edit.setText(str(path))
            self.load_preview()

    # --- file and mapping ----------------------------------------------------------------

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Import leads",
            str(Path.home()),
            "Spreadsheets (*.csv *.tsv *.txt *.xlsx);;All files (*)",
        )
        if path:
            self.path_edit.setText(path)
            self.load_preview()

    def _base_options(self) -> importer.ImportOptions:
        return importer.ImportOptions(
            unknown_columns="custom" if self.keep_unknown.isChecked() else "ignore",
            encoding=self.encoding.currentData() or None,
        )

    def load_preview(self) -> None:
        if self._thread is not None:  # (the path field's editingFinished as it is locked)
            return
        path = self.path_edit.text().strip()
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.preview = None
        self.import_button.setEnabled(False)
        if not path:
            return
        try:
            preview = importer.preview_import(path, self._base_options(), PREVIEW_ROWS)
        except UserError as exc:
            self.file_info.setText(str(exc))
            return
        self.preview = preview
        kind = "Excel" if preview.kind == "xlsx" else f"CSV, {preview.encoding}"
        if preview.sheet:
            kind += f", sheet {preview.sheet!r}"
        delimiter = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "bar"}.get(
            preview.delimiter, preview.delimiter
        )
        if preview.kind != "xlsx":
            kind += f", {delimiter}-separated"
        self.file_info.setText(
            f"{Path(path).name} ({kind}). Check where each column goes; the first "
            f"{len(preview.rows)} rows are shown."
        )
        self.table.setColumnCount(len(preview.header))
        self.table.setHorizontalHeaderLabels(preview.header)
        self.table.setRowCount(len(preview.rows) + 1)
        # Row 0 holds the field choices; the others are numbered as in a spreadsheet.
        self.table.setVerticalHeaderLabels(["Field", *map(str, preview.row_numbers)])
        for column, (name, target) in enumerate(zip(preview.header, preview.mapping, strict=True)):
            combo = QComboBox()
            combo.setObjectName(f"map:{name}")
            combo.addItem("— ignore —", importer.IGNORE)
            for field, label in FIELD_LABELS.items():
                combo.addItem(label, field)
            combo.addItem(f"Custom field “{name}”", importer.CUSTOM + name)
            if target.startswith(importer.CUSTOM) and combo.findData(target) < 0:
                combo.addItem(f"Custom field “{target[len(importer.CUSTOM) :]}”", target)
            combo.setCurrentIndex(max(0, combo.findData(target)))
            combo.currentIndexChanged.connect(lambda _i: self._check_mapping())
            self.table.setCellWidget(0, column, combo)
        for r, cells in enumerate(preview.rows, start=1):
            for c in range(len(preview.header)):
                text = cells[c] if c < len(cells) else ""
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self._check_mapping()

    def mapping(self) -> dict[str, str]:
        if self.preview is None:
            return {}
        result = {}
        for column, name in enumerate(self.preview.header):
            combo = self.table.cellWidget(0, column)
            if isinstance(combo, QComboBox):
                result[name] = str(combo.currentData())
        return result

    def _check_mapping(self) -> None:
        targets = [t for t in self.mapping().values() if t != importer.IGNORE]
        twice = sorted({t for t in targets if targets.count(t) > 1})
        if "email" not in targets:
            self.status.setText("Choose the column that holds the email address.")
            self.import_button.setEnabled(False)
        elif twice:
            self.status.setText(f"Two columns go to the same field: {', '.join(twice)}.")
            self.import_button.setEnabled(False)
        else:
            self.status.setText("")
            self.import_button.setEnabled(self._thread is None)

    # --- running ---------------------------------------------------------------------------

    def current_options(self) -> importer.ImportOptions:
        return importer.ImportOptions(
            mapping=self.mapping(),
            unknown_columns="custom" if self.keep_unknown.isChecked() else "ignore",
            on_duplicate=str(self.policy.currentData()),
            tags=tuple(t.strip() for t in self.tags.text().split(",") if t.strip()),
            source=self.source.text().strip(),
            stage=str(self.stage.currentData()) if self.stage.count() else None,
            encoding=self.encoding.currentData() or None,
        )

    def start(self) -> None:
        if self.preview is None or self._thread is not None:
            return
        options = self.current_options()
        self.options = options
        path = self.path_edit.text().strip()
        self._cancel.clear()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.status.setText("Reading…")
        self.import_button.setEnabled(False)
        signals = self._signals
        workspace = self.workspace
        cancel = self._cancel

        def work() -> None:  # on the worker thread: no widget is touched here
            try:
                result = importer.import_file(
                    workspace,
                    path,
                    options,
                    progress=signals.progress.emit,
                    should_cancel=cancel.is_set,
                )
            except UserError as exc:
                signals.failed.emit(str(exc))
            except Exception as exc:  # a bug: report it, do not kill the thread silently
                signals.failed.emit(f"The import failed: {exc!r}. Nothing was imported.")
                raise
            else:
                signals.finished.emit(result)

        self._thread = threading.Thread(target=work, name="import", daemon=True)
        self._thread.start()
        self._lock_choices(True)  # after: a locked path field may say editingFinished

    def _lock_choices(self, locked: bool) -> None:
        for widget in self.choices:
            widget.setEnabled(not locked)

    def _on_progress(self, p: importer.ImportProgress) -> None:
        if p.fraction < 1:
            self.progress.setValue(int(p.fraction * 1000))
        else:
            # The file is read but nothing is kept until the commit, and what is left (the
            # last rows, indexes, the commit) has no measure: a busy bar, never a full one.
            self.progress.setRange(0, 0)
        verb = "Saving" if p.phase == "saving" else "Reading"
        self.status.setText(f"{verb}… {p.rows:,} rows ({p.rows_per_second:,.0f} rows/s)")

    def _finish_thread(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.progress.setRange(0, 1000)
        self._lock_choices(False)

    def _on_finished(self, result: importer.ImportResult) -> None:
        self._finish_thread()
        self.import_result = result
        self.progress.setValue(1000)
        text = (
            f"{result.rows:,} rows: {result.imported:,} new, {result.updated:,} updated, "
            f"{result.skipped:,} skipped, {result.rejected:,} rejected "
            f"({result.rows_per_second:,.0f} rows/s)."
        )
        if result.skipped_why:
            text += f"\nSkipped: {result.skipped_summary()}."
        more = result.rejected - len(result.problems)
        text += "".join(f"\nRejected {problem}" for problem in result.problems)
        if more > 0:
            text += f"\n… and {more:,} more rejected."
        if result.rejected_file:
            text += f"\nSkipped and rejected rows, with the reason, are in {result.rejected_file}"
        text += "".join(f"\nWarning: {warning}." for warning in result.warnings)
        self.status.setText(text)
        self.cancel_button.setText("Close")
        self.imported.emit(result, self.options)

    def _on_failed(self, message: str) -> None:
        self._finish_thread()
        self.progress.setVisible(False)
        self.status.setText(message)
        self._check_mapping()
        if self.status.text() == "":
            self.status.setText(message)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def cancel_or_close(self) -> None:
        if self._thread is not None:
            self._cancel.set()
            self.status.setText("Cancelling… nothing of this import will be kept.")
            return
        if self.import_result is not None:
            self.accept()
        else:
            self.reject()

    def reject(self) -> None:
        if self._thread is not None:  # Escape or the close button while importing
            self.cancel_or_close()
            return
        super().reject()
