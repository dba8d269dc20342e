//! The team library's calls (`/v1/library`).

use crate::client::{Client, ClientError};
use crate::library::{
    CreateWorkflow, DiffReply, PublishRequest, PushReply, PushRequest, RestoreRequest, RevisionLog, TemplateList,
    TemplateView, WorkflowList, WorkflowView,
};

impl Client {
    /// One page of the library, in path order, after `after`.
    pub async fn library(
        &self,
        folder: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<WorkflowList, ClientError> {
        let mut query = vec![("limit", limit.to_string())];
        query.extend(folder.map(|f| ("folder", f.to_string())));
        query.extend(after.map(|a| ("after", a.to_string())));
        self.call(self.http().get(self.url("/v1/library/workflows")).query(&query)).await
    }

    /// Every workflow of the library (or of one folder), page by page.
    pub async fn library_all(&self, folder: Option<&str>) -> Result<Vec<crate::library::WorkflowSummary>, ClientError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.library(folder, after.as_deref(), 1000).await?;
            all.extend(page.workflows);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// A workflow at its head, or at `revision`.
    pub async fn library_workflow(&self, id: &str, revision: Option<&str>) -> Result<WorkflowView, ClientError> {
        let query: Vec<(&str, &str)> = revision.map(|r| ("revision", r)).into_iter().collect();
        self.call(self.http().get(self.url(&format!("/v1/library/workflows/{id}"))).query(&query)).await
    }

    /// Adds a workflow.
    pub async fn library_create(&self, req: &CreateWorkflow) -> Result<WorkflowView, ClientError> {
        self.call(self.http().post(self.url("/v1/library/workflows")).json(req)).await
    }

    /// Pushes a revision made from `req.base`.
    pub async fn library_push(&self, id: &str, req: &PushRequest) -> Result<PushReply, ClientError> {
        self.call(self.http().post(self.url(&format!("/v1/library/workflows/{id}/push"))).json(req)).await
    }

    /// A workflow's revisions, newest first.
    pub async fn library_log(&self, id: &str, limit: i64) -> Result<RevisionLog, ClientError> {
        let query = [("limit", limit.to_string())];
        self.call(self.http().get(self.url(&format!("/v1/library/workflows/{id}/log"))).query(&query)).await
    }

    /// The diff between two revisions (`to`: the head).
    pub async fn library_diff(&self, id: &str, from: &str, to: Option<&str>) -> Result<DiffReply, ClientError> {
        let mut query = vec![("from", from)];
        query.extend(to.map(|t| ("to", t)));
        self.call(self.http().get(self.url(&format!("/v1/library/workflows/{id}/diff"))).query(&query)).await
    }

    /// Makes an old revision the head again.
    pub async fn library_restore(&self, id: &str, req: &RestoreRequest) -> Result<PushReply, ClientError> {
        self.call(self.http().post(self.url(&format!("/v1/library/workflows/{id}/restore"))).json(req)).await
    }

    /// Releases a template version.
    pub async fn library_publish(&self, req: &PublishRequest) -> Result<TemplateView, ClientError> {
        self.call(self.http().post(self.url("/v1/library/templates")).json(req)).await
    }

    /// The team's templates.
    pub async fn library_templates(&self) -> Result<TemplateList, ClientError> {
        self.call(self.http().get(self.url("/v1/library/templates"))).await
    }
}
